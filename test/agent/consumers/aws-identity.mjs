// What a user's Node.js program does to learn who it is: the AWS SDK for
// JavaScript v3 with its default credential chain. Prints {"arn": ...}.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const client = new STSClient({});
const { Arn } = await client.send(new GetCallerIdentityCommand({}));
client.destroy();
console.log(JSON.stringify({ arn: Arn }));
