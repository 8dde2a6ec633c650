using Akka.Actor;
using Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Status;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Configuration;

/// <summary>
/// Every setting of one TcpStore, read from the <c>tcpstore</c> section of the HOCON configuration, the only source
/// of truth (options objects and command-line flags write HOCON; nothing else reads settings). Each component gets
/// its own slice: the listener <see cref="Listener"/>, the store <see cref="Store"/>, the admin endpoint
/// <see cref="Admin"/>.
/// </summary>
/// <param name="Listener">The TCP listener and its connections.</param>
/// <param name="Store">What the store may hold.</param>
/// <param name="Admin">The admin HTTP endpoint and the status view.</param>
/// <param name="StoreHealthTimeout"><c>tcpstore.health.store-timeout</c>: how long the store health check waits.</param>
/// <param name="ClusterEnabled"><c>tcpstore.cluster.enabled</c>: the store runs in cluster mode (set by
/// <c>WithTcpStoreCluster</c>; the standalone server reads it from its <c>--config</c> file).</param>
public sealed record TcpStoreSettings(
    ListenerSettings Listener,
    StoreLimits Store,
    AdminSettings Admin,
    TimeSpan StoreHealthTimeout,
    bool ClusterEnabled)
{
    /// <summary>The root key of every setting.</summary>
    public const string ConfigPath = "tcpstore";

    private const string ReferenceResource = "TcpStore.Akka.reference.conf";

    /// <summary>The embedded reference configuration (<c>hocon/reference.conf</c>): every key with its default.</summary>
    public static Config DefaultConfig()
    {
        using var stream = typeof(TcpStoreSettings).Assembly.GetManifestResourceStream(ReferenceResource)
                           ?? throw new InvalidOperationException($"Embedded resource {ReferenceResource} is missing.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    /// <summary>Reads the settings of <paramref name="system"/>, injecting the reference configuration as fallback.</summary>
    public static TcpStoreSettings Create(ActorSystem system)
    {
        system.Settings.InjectTopLevelFallback(DefaultConfig());
        return Create(system.Settings.Config.GetConfig(ConfigPath));
    }

    /// <summary>Reads the settings from a <c>tcpstore</c> section (keys missing from it take their defaults).</summary>
    /// <exception cref="ConfigurationException">A value is out of its range; the message names the key.</exception>
    public static TcpStoreSettings Create(Config tcpstoreSection)
    {
        var config = (tcpstoreSection ?? Config.Empty).WithFallback(DefaultConfig().GetConfig(ConfigPath));
        return new TcpStoreSettings(
            Listener: ListenerSettings.Create(config),
            Store: StoreLimits.Create(config),
            Admin: AdminSettings.Create(config),
            StoreHealthTimeout: SettingsReader.PositiveTime(config, "health.store-timeout"),
            ClusterEnabled: config.GetBoolean("cluster.enabled"))
        {
            Section = config,
        };
    }

    /// <summary>
    /// The dispatcher of the standalone store: event loop 0's with the epoll transport and
    /// <c>tcp.event-loops.store-on-loop</c>, else null (the default dispatcher).
    /// </summary>
    public string? StoreDispatcher =>
        Listener is { Transport: TcpTransport.Epoll, EventLoops.StoreOnLoop: true } ? EventLoops.EventLoopGroup.DispatcherId(0) : null;

    /// <summary>
    /// The store's whole <c>tcpstore</c> section as it was read (defaults included): what a store provider reads
    /// beyond the core's settings (cluster mode: <c>cluster.store-incarnation</c>, which replicated keys are the store's).
    /// </summary>
    public Config Section { get; init; } = Config.Empty;

    /// <summary>One line naming every limit, for the start-up log and the status page.</summary>
    public string DescribeLimits() => $"{Listener.DescribeLimits()}, queue {Store.MaxQueueLength} items";
}
