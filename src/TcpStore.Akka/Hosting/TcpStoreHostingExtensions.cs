using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>Akka.Hosting entry points: <c>builder.WithTcpStore(...)</c>.</summary>
public static class TcpStoreHostingExtensions
{
    /// <summary>The name of the guardian actor (<c>/user/tcpstore</c>).</summary>
    public const string GuardianName = "tcpstore";

    /// <summary>How long a start waits for the guardian to report its children (it creates them at once).</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs a TcpStore server in this actor system, on <paramref name="host"/>:<paramref name="port"/>
    /// when given, else as configured under <c>tcpstore</c>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, string? host = null, int? port = null) =>
        builder.WithTcpStore(new TcpStoreOptions { Host = host, Port = port });

    /// <summary>Runs a TcpStore server in this actor system, with options set by <paramref name="configure"/>.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder, Action<TcpStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TcpStoreOptions();
        configure(options);
        return builder.WithTcpStore(options);
    }

    /// <summary>Runs a standalone TcpStore server in this actor system.</summary>
    public static AkkaConfigurationBuilder WithTcpStore(this AkkaConfigurationBuilder builder, TcpStoreOptions options) =>
        builder.WithTcpStore(options, storeProvider: null);

    /// <summary>
    /// Runs a TcpStore server in this actor system whose store comes from <paramref name="storeProvider"/> (cluster
    /// mode's <c>WithTcpStoreCluster</c> passes its own); null runs the standalone <see cref="StoreActor"/>. The
    /// options' HOCON goes first, the embedded defaults last, so that any HOCON the host adds in between still
    /// overrides the defaults. The <see cref="TcpStoreGuardian"/>, the store (<see cref="StoreEndpoint"/>) and the
    /// <see cref="TcpStoreListener"/> are registered in the <see cref="ActorRegistry"/> before the host's start
    /// completes, so no lookup after it can miss them. The listener and store health checks
    /// (<see cref="TcpStoreHealthChecks"/>) are registered with <c>WithHealthCheck</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStore(
        this AkkaConfigurationBuilder builder,
        TcpStoreOptions options,
        Func<ActorSystem, TcpStoreSettings, IStoreProvider>? storeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hocon = options.ToConfig();
        if (!hocon.IsEmpty) builder.AddHocon(hocon, HoconAddMode.Prepend);
        return builder
            .AddHocon(TcpStoreSettings.DefaultConfig(), HoconAddMode.Append)
            .WithActors(async (system, _) =>
            {
                var settings = TcpStoreSettings.Create(system);
                await system.StartTcpStoreAsync(settings, storeProvider?.Invoke(system, settings) ?? Standalone(settings));
            })
            .WithTcpStoreHealthChecks();
    }

    /// <summary>
    /// Starts the component in <paramref name="system"/> (the guardian <c>/user/tcpstore</c> with its store and
    /// listener) and registers all three in the system's <see cref="ActorRegistry"/> before it returns: the guardian
    /// as <see cref="TcpStoreGuardian"/>, the store as <see cref="StoreEndpoint"/>, the listener as
    /// <see cref="TcpStoreListener"/>. <c>WithTcpStore</c> calls it while the host starts; a system built without
    /// Akka.Hosting may call it itself.
    /// </summary>
    public static async Task<TcpStoreGuardian.Components> StartTcpStoreAsync(
        this ActorSystem system, TcpStoreSettings settings, IStoreProvider? storeProvider = null)
    {
        var registry = ActorRegistry.For(system);
        var guardian = system.ActorOf(TcpStoreGuardian.Props(settings, storeProvider), GuardianName);
        registry.Register<TcpStoreGuardian>(guardian);
        var components = await guardian.Ask<TcpStoreGuardian.Components>(
            TcpStoreGuardian.GetComponents.Instance, StartTimeout).ConfigureAwait(false);
        registry.Register<StoreEndpoint>(components.Store);
        registry.Register<TcpStoreListener>(components.Listener);
        return components;
    }

    private static StandaloneStoreProvider Standalone(TcpStoreSettings settings) =>
        settings.ClusterEnabled
            ? throw new ConfigurationException(
                $"{TcpStoreSettings.ConfigPath}.cluster.enabled = on, but the store was added with WithTcpStore: cluster " +
                "mode is started with WithTcpStoreCluster (package TcpStore.Akka.Cluster).")
            : new StandaloneStoreProvider(settings);
}
