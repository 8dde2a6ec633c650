using System.Runtime.CompilerServices;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Akka.Admin;
using TcpStore.Akka.Cluster;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Server;

/// <summary>
/// The standalone server's hosting, shared by <c>tcpstore-server</c> and <c>tcpstore serve</c>: a generic host with
/// single-line console logging, Akka.Hosting with <c>WithTcpStore</c> (or <c>WithTcpStoreCluster</c> when the
/// <c>--config</c> file sets <c>tcpstore.cluster.enabled = on</c>), the admin endpoint when
/// <c>tcpstore.admin.enabled</c>, and the <c>READY &lt;port&gt;</c> line.
/// </summary>
public static class TcpStoreServerHost
{
    /// <summary>
    /// Runs the server until <paramref name="cancellationToken"/> fires or the process is asked to stop (Ctrl-C,
    /// SIGTERM). Returns the process exit code: 0 after a clean stop, 1 if a store could not start (its port in use), 2 if
    /// <paramref name="configFile"/> does not exist.
    /// </summary>
    /// <param name="options">Server options (only the properties that are set override HOCON).</param>
    /// <param name="configFile">A HOCON file whose <c>tcpstore</c>/<c>akka</c> sections override the defaults, or null.</param>
    /// <param name="cancellationToken">Stops the server.</param>
    /// <param name="error">Where a missing config file is reported; standard error when null.</param>
    /// <param name="clusterPort">Cluster mode: this node's Akka.Remote port, over the config file's; null keeps it.</param>
    public static async Task<int> RunAsync(
        TcpStoreOptions options, string? configFile, CancellationToken cancellationToken, TextWriter? error = null,
        int? clusterPort = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (configFile is not null && !File.Exists(configFile))
        {
            (error ?? Console.Error).WriteLine($"tcpstore: config file {configFile} not found");
            return 2;
        }

        bool clusterMode;
        try
        {
            clusterMode = IsClusterMode(configFile);
        }
        catch (ConfigurationException e)
        {
            (error ?? Console.Error).WriteLine($"tcpstore: config file {configFile}: {e.Message}");
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
            if (configFile is not null) akka.AddHoconFile(configFile, HoconAddMode.Prepend);
            // Akka's HOCON cannot read it from the environment itself (an optional ${?VAR} substitution of a key
            // that is also set hangs the parser in 1.5.74), so the command line writes it over the file.
            if (clusterPort is { } remotePort)
                akka.AddHocon($"akka.remote.dot-netty.tcp.port = {remotePort}", HoconAddMode.Prepend);
            if (clusterMode) AddClusterStore(akka, options);
            else akka.WithTcpStore(options);
        });
        // Before the BindingReporter, so that `ADMIN <port>` comes before `READY <port>` on standard output.
        builder.Services.AddTcpStoreAdmin(admin =>
        {
            Console.Out.WriteLine($"ADMIN {admin.Port}");
            Console.Out.Flush();
        });
        builder.Services.AddHostedService<BindingReporter>();
        Environment.ExitCode = 0;
        using var host = builder.Build();
        try
        {
            await host.RunAsync(cancellationToken);
        }
        catch (TcpStoreStartException e)
        {
            // The store's port is taken, or a setting is wrong: say so and exit 1, as any server that cannot bind.
            (error ?? Console.Error).WriteLine($"tcpstore: {e.Message}");
            return 1;
        }

        return Environment.ExitCode;
    }

    /// <summary>Whether <paramref name="configFile"/> asks for cluster mode (<c>tcpstore.cluster.enabled = on</c>).</summary>
    private static bool IsClusterMode(string? configFile) =>
        configFile is not null &&
        ConfigurationFactory.ParseString(File.ReadAllText(configFile))
            .GetBoolean(TcpStoreSettings.ConfigPath + ".cluster.enabled", false);

    /// <summary>
    /// The one method that names a cluster type: the runtime loads the cluster assemblies when it compiles it, so a
    /// standalone server, which never calls it, maps none of them (a test reads the process's memory map).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddClusterStore(AkkaConfigurationBuilder akka, TcpStoreOptions options) =>
        akka.WithTcpStoreCluster(new TcpStoreClusterOptions { Store = options });

    /// <summary>The port from <c>TCPSTORE_PORT</c>-style text, or null when it is absent or not a number.</summary>
    public static int? ParsePort(string? text) => int.TryParse(text, out var port) ? port : null;
}
