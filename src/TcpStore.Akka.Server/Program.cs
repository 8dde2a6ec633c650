using System.CommandLine;
using TcpStore.Akka.Server;

// The standalone server; `tcpstore serve` runs the same command line and host.
var root = ServerCommandLine.Configure(
    new RootCommand("TcpStore.Akka: a wire-compatible PyTorch TCPStore server on Akka.NET."));
return await root.Parse(args).InvokeAsync();
