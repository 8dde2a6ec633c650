using System.CommandLine;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Admin;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Server;

// The standalone server: flags and environment variables become TcpStoreOptions, which become HOCON under
// `tcpstore`; a --config file sits between them and the embedded defaults.
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
root.SetAction(async (parse, cancellation) =>
{
    var options = new TcpStoreOptions
    {
        Host = parse.GetValue(hostOption) ?? Environment.GetEnvironmentVariable("TCPSTORE_HOST"),
        Port = parse.GetValue(portOption) ?? ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_PORT")),
        AdminPort = parse.GetValue(adminPortOption) ?? ParsePort(Environment.GetEnvironmentVariable("TCPSTORE_ADMIN_PORT")),
    };
    var config = parse.GetValue(configOption)?.FullName ?? Environment.GetEnvironmentVariable("TCPSTORE_CONFIG");
    if (config is not null && !File.Exists(config))
    {
        Console.Error.WriteLine($"tcpstore-server: config file {config} not found");
        return 2;
    }

    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
    builder.Logging.AddSimpleConsole(console =>
    {
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss.fff ";
    });
    builder.Services.AddAkka("tcpstore", akka =>
    {
        akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        });
        if (config is not null) akka.AddHoconFile(config, HoconAddMode.Prepend);
        akka.WithTcpStore(options);
    });
    // Before the BindingReporter, so that `ADMIN <port>` comes before `READY <port>` on standard output.
    builder.Services.AddTcpStoreAdmin(admin =>
    {
        Console.Out.WriteLine($"ADMIN {admin.Port}");
        Console.Out.Flush();
    });
    builder.Services.AddHostedService<BindingReporter>();
    using var host = builder.Build();
    await host.RunAsync(cancellation);
    return Environment.ExitCode;
});
return await root.Parse(args).InvokeAsync();

static int? ParsePort(string? text) => int.TryParse(text, out var port) ? port : null;
