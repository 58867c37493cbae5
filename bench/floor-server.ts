// The floor: a server that reads each delivery and answers "ok" without any
// other work. Its figures are what this machine and the bench's own client can do
// at all, so they show how much of every other row is not the server's doing.
import { createServer } from "node:http";

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/ping") {
    res.end("PONG");
    return;
  }
  // Read the whole body before answering, as Probot must to check the signature.
  req.resume();
  req.on("end", () => res.end("ok\n"));
});
server.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
