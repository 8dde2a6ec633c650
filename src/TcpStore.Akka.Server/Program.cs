using System.CommandLine;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Server;

// The standalone server: flags and environment variables become TcpStoreOptions, which become HOCON under
// `tcpstore`; a --config file sits between them and the embedded defaults. `tcpstore serve` runs the same host.
var hostOption = new Option<string?>("--host")
{
    Description = "Address to bind (tcpstore.host). Environment: TCPSTORE_HOST. Default: 0.0.0.0 (every interface).",
};
var portOption = new Option<int?>("--port")
{
    Description = "TCP port; 0 picks a free one (tcpstore.port). Environment: TCPSTORE_PORT. Default: 29500.",
};
var configOption = new Option<FileInfo?>("--config")
{
    Description = "A HOCON file; its `tcpstore` and `akka` sections override the defaults. Environment: TCPSTORE_CONFIG.",
};
var adminPortOption = new Option<int?>("--admin-port")
{
    Description = "Enable the admin HTTP endpoint (/, /status, /metrics, /healthz) on this port, on 127.0.0.1 unless " +
                  "tcpstore.admin.host says otherwise; 0 picks a free port (tcpstore.admin.enabled, tcpstore.admin.port). " +
                  "Environment: TCPSTORE_ADMIN_PORT. Default: off.",
};
var root = new RootCommand("TcpStore.Akka: a wire-compatible PyTorch TCPStore server on Akka.NET.")
{
    hostOption, portOption, configOption, adminPortOption,
};
root.SetAction((parse, cancellation) =>
{
    var options = new TcpStoreOptions
    {
        Host = parse.GetValue(hostOption) ?? Environment.GetEnvironmentVariable("TCPSTORE_HOST"),
        Port = parse.GetValue(portOption) ??
               TcpStoreServerHost.ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_PORT")),
        AdminPort = parse.GetValue(adminPortOption) ??
                    TcpStoreServerHost.ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_ADMIN_PORT")),
    };
    var config = parse.GetValue(configOption)?.FullName ?? Environment.GetEnvironmentVariable("TCPSTORE_CONFIG");
    return TcpStoreServerHost.RunAsync(options, config, cancellation);
});
return await root.Parse(args).InvokeAsync();
