// A user's Java program calling the Datadog API with the official client and
// the bearer token the agent keeps in DD_BEARER_TOKEN_FILE, as the README
// shows: the file is read for each call, and read again when Datadog refuses
// the token.
//
//   java DatadogBearer HOST SECONDS   calls UsersApi.listUsers for SECONDS against HOST
//
// Prints {"calls", "refused", "tokens"}; exits 1 on any other error. The test
// bed's Datadog listens on loopback over plain HTTP, so main points the client
// there (setBasePath); ApiClient.getDefaultApiClient() otherwise goes to
// https://api.<DD_SITE>.
import com.datadog.api.client.ApiClient;
import com.datadog.api.client.ApiException;
import com.datadog.api.client.auth.OAuth;
import com.datadog.api.client.v2.api.UsersApi;
import com.datadog.api.client.v2.model.UsersResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

public class DatadogBearer {
  // README: Java
  interface DatadogCall<T> {
    T call(ApiClient client) throws ApiException;
  }

  /**
   * Runs call with the token the agent keeps in DD_BEARER_TOKEN_FILE, read for each call (the
   * agent replaces it before it expires); if Datadog refuses it, reads the file once more and
   * repeats the call.
   */
  static <T> T callDatadog(ApiClient client, DatadogCall<T> call) throws ApiException, IOException {
    for (int attempt = 1; ; attempt++) {
      client.setAccessToken(Files.readString(Path.of(System.getenv("DD_BEARER_TOKEN_FILE"))).strip());
      try {
        return call.call(client);
      } catch (ApiException refused) {
        if (attempt == 2 || refused.getCode() != 401) throw refused;
      }
    }
  }

  // For example (getDefaultApiClient takes the site from DD_SITE):
  //   ApiClient client = ApiClient.getDefaultApiClient();
  //   UsersResponse users = callDatadog(client, c -> new UsersApi(c).listUsers());
  // README: end

  static int calls, refused;
  static final Set<String> tokens = new HashSet<>();

  public static void main(String[] args) throws Exception {
    String host = args[0];
    double seconds = Double.parseDouble(args[1]);
    ApiClient client = ApiClient.getDefaultApiClient();
    client.setBasePath(host);
    long deadline = System.nanoTime() + (long) (seconds * 1e9);
    while (System.nanoTime() < deadline) {
      UsersResponse users =
          callDatadog(
              client,
              c -> {
                tokens.add(((OAuth) c.getAuthentication("AuthZ")).getAccessToken().getAccessToken());
                calls++;
                try {
                  return new UsersApi(c).listUsers();
                } catch (ApiException error) {
                  if (error.getCode() == 401) refused++;
                  throw error;
                }
              });
      if (users.getData().isEmpty()) throw new IllegalStateException("no users in the answer");
      Thread.sleep(100);
    }
    System.out.printf("{\"calls\": %d, \"refused\": %d, \"tokens\": %d}%n", calls, refused, tokens.size());
  }
}
