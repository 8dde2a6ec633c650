using System.CommandLine;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Server;

/// <summary>
/// The server's command line, shared by <c>tcpstore-server</c> and <c>tcpstore serve</c>: flags and environment
/// variables become <see cref="TcpStoreOptions"/> (which become HOCON under <c>tcpstore</c>); a <c>--config</c> file
/// sits between them and the embedded defaults.
/// </summary>
public static class ServerCommandLine
{
    /// <summary>Adds the server's options to <paramref name="command"/> and makes running it run the server.</summary>
    public static TCommand Configure<TCommand>(TCommand command, TextWriter? error = null) where TCommand : Command
    {
        var host = new Option<string?>("--host")
        {
            Description = "Address to bind (tcpstore.host). Environment: TCPSTORE_HOST. Default: :: (every interface, IPv6 and IPv4; IPv4 only on a host without IPv6).",
        };
        var port = new Option<int?>("--port")
        {
            Description = "TCP port; 0 picks a free one (tcpstore.port). Environment: TCPSTORE_PORT. Default: 29500.",
        };
        var config = new Option<FileInfo?>("--config")
        {
            Description = "A HOCON file; its `tcpstore` and `akka` sections override the defaults. Environment: TCPSTORE_CONFIG.",
        };
        var adminPort = new Option<int?>("--admin-port")
        {
            Description = "Enable the admin HTTP endpoint (/, /status, /metrics, /healthz) on this port, on 127.0.0.1 " +
                          "unless tcpstore.admin.host says otherwise; 0 picks a free port (tcpstore.admin.enabled, " +
                          "tcpstore.admin.port). Environment: TCPSTORE_ADMIN_PORT. Default: off.",
        };
        var clusterPort = new Option<int?>("--cluster-port")
        {
            Description = "Cluster mode: this node's Akka.Remote port (akka.remote.dot-netty.tcp.port), so that one " +
                          "--config file serves every node (docs/CLUSTER.md). Environment: TCPSTORE_CLUSTER_PORT.",
        };
        var transport = new Option<string?>("--transport")
        {
            Description = "How sockets are served: epoll (event loops, Linux), sockets (.NET sockets) or auto " +
                          "(tcpstore.tcp.transport). Environment: TCPSTORE_TRANSPORT. Default: epoll on Linux.",
        };
        transport.AcceptOnlyFromAmong("auto", "epoll", "sockets");
        command.Options.Add(host);
        command.Options.Add(port);
        command.Options.Add(config);
        command.Options.Add(adminPort);
        command.Options.Add(clusterPort);
        command.Options.Add(transport);
        command.SetAction((parse, cancellation) =>
        {
            var options = new TcpStoreOptions
            {
                Host = parse.GetValue(host) ?? Environment.GetEnvironmentVariable("TCPSTORE_HOST"),
                Port = parse.GetValue(port) ??
                       TcpStoreServerHost.ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_PORT")),
                AdminPort = parse.GetValue(adminPort) ??
                            TcpStoreServerHost.ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_ADMIN_PORT")),
                Transport = parse.GetValue(transport) ??
                            (Environment.GetEnvironmentVariable("TCPSTORE_TRANSPORT") is { Length: > 0 } fromEnvironment
                                ? fromEnvironment
                                : null),
            };
            var file = parse.GetValue(config)?.FullName ?? Environment.GetEnvironmentVariable("TCPSTORE_CONFIG");
            var remotePort = parse.GetValue(clusterPort) ??
                             TcpStoreServerHost.ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_CLUSTER_PORT"));
            return TcpStoreServerHost.RunAsync(options, file, cancellation, error, remotePort);
        });
        return command;
    }
}
