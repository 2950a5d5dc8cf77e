// A user's Go program calling the Datadog API with the official client and
// the bearer token the agent keeps in DD_BEARER_TOKEN_FILE, as the README
// shows: the file is read for each call, and read again when Datadog refuses
// the token.
//
//	datadog-bearer HOST SECONDS   calls UsersApi.ListUsers for SECONDS against HOST
//
// Prints {"calls", "rereads", "tokens"}; exits 1 on any other error. The
// test bed's Datadog listens on loopback over plain HTTP, so main points the
// client there through the context (server index 1, "{protocol}://{name}");
// with DD_SITE set and no such context the client goes to https://api.<site>.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"
)

// README: Go
// callDatadog runs call with the token the agent keeps in DD_BEARER_TOKEN_FILE,
// read for each call (the agent replaces it before it expires); if Datadog
// refuses it, the file is read once more and the call repeated.
func callDatadog[T any](ctx context.Context, call func(context.Context) (T, *http.Response, error)) (T, error) {
	withToken := func() (context.Context, error) {
		token, err := os.ReadFile(os.Getenv("DD_BEARER_TOKEN_FILE"))
		if err != nil {
			return nil, err
		}
		// NewDefaultContext takes the site from DD_SITE.
		return context.WithValue(datadog.NewDefaultContext(ctx), datadog.ContextAccessToken, strings.TrimSpace(string(token))), nil
	}
	var zero T
	for attempt := 1; ; attempt++ {
		authorized, err := withToken()
		if err != nil {
			return zero, err
		}
		result, response, err := call(authorized)
		if err == nil || attempt == 2 || response == nil || response.StatusCode != http.StatusUnauthorized {
			return result, err
		}
	}
}

// For example:
//
//	api := datadogV2.NewUsersApi(datadog.NewAPIClient(datadog.NewConfiguration()))
//	users, err := callDatadog(ctx, func(ctx context.Context) (datadogV2.UsersResponse, *http.Response, error) { return api.ListUsers(ctx) })
// README: end

func main() {
	host, seconds := os.Args[1], os.Args[2]
	duration, err := strconv.ParseFloat(seconds, 64)
	if err != nil {
		fail(err)
	}
	ctx := context.WithValue(context.Background(), datadog.ContextServerIndex, 1)
	ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": "http", "name": strings.TrimPrefix(host, "http://")})
	api := datadogV2.NewUsersApi(datadog.NewAPIClient(datadog.NewConfiguration()))
	listUsers := func(ctx context.Context) (datadogV2.UsersResponse, *http.Response, error) {
		used := ctx.Value(datadog.ContextAccessToken).(string)
		if used != lastToken {
			if lastToken != "" {
				tokens++
			}
			lastToken = used
		}
		calls++
		response, httpResponse, err := api.ListUsers(ctx)
		if httpResponse != nil && httpResponse.StatusCode == http.StatusUnauthorized {
			refused++
		}
		return response, httpResponse, err
	}
	deadline := time.Now().Add(time.Duration(duration * float64(time.Second)))
	for time.Now().Before(deadline) {
		if _, err := callDatadog(ctx, listUsers); err != nil {
			fail(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := json.Marshal(map[string]int{"calls": calls, "refused": refused, "tokens": tokens + 1})
	fmt.Println(string(out))
}

var (
	calls, refused, tokens int
	lastToken              string
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
