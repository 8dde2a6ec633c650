using System.Net;
using Akka.Actor;
using Akka.Configuration;
using TcpStore.Protocol;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// Settings of one TcpStore server, read from the <c>tcpstore</c> section of the HOCON configuration: the only
/// source of truth. Options objects and command-line flags write HOCON; nothing else reads settings.
/// </summary>
public sealed record TcpStoreSettings(
    string Host,
    int Port,
    int Backlog,
    IReadOnlyList<IPNetwork> AllowedNetworks,
    WireLimits WireLimits,
    StoreLimits StoreLimits,
    int MaxConnections,
    int MaxBufferedBytesPerConnection,
    int ReceiveChunkBytes,
    bool NoDelay,
    KeepAliveSettings KeepAlive)
{
    /// <summary>The root key of every setting.</summary>
    public const string ConfigPath = "tcpstore";

    /// <summary><c>tcpstore.admin</c>: the admin HTTP endpoint.</summary>
    public AdminSettings Admin { get; init; } = AdminSettings.Default;

    /// <summary><c>tcpstore.health.store-timeout</c>: how long the store health check waits for the store.</summary>
    public TimeSpan StoreHealthTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// <c>tcpstore.cluster.enabled</c>: run the store as an Akka.Cluster singleton (TcpStore.Akka.Cluster, which reads
    /// the rest of <c>tcpstore.cluster</c> itself). Off by default: standalone mode loads no cluster assembly.
    /// </summary>
    public bool ClusterEnabled { get; init; }

    /// <summary>
    /// <c>tcpstore.tcp.connection-hosts</c>: how many stream actors run the connections (each runs its share of
    /// them, sockets dealt in turn); the setting's 0 means one per processor.
    /// </summary>
    public int ConnectionHosts { get; init; } = Environment.ProcessorCount;

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
    public static TcpStoreSettings Create(Config tcpstoreSection)
    {
        var config = (tcpstoreSection ?? Config.Empty).WithFallback(DefaultConfig().GetConfig(ConfigPath));
        var limits = config.GetConfig("limits");
        var keepAlive = config.GetConfig("tcp.keepalive");
        var admin = config.GetConfig("admin");
        return new TcpStoreSettings(
            Host: config.GetString("host"),
            Port: Range(config.GetInt("port"), "port", 0, 65535),
            Backlog: Positive(config.GetInt("backlog"), "backlog"),
            AllowedNetworks: ParseNetworks(config.GetStringList("allowed-networks")),
            WireLimits: new WireLimits(
                MaxKeyBytes: Positive(limits.GetInt("max-key-bytes"), "limits.max-key-bytes"),
                MaxValueBytes: Positive(limits.GetInt("max-value-bytes"), "limits.max-value-bytes"),
                MaxKeysPerRequest: Positive(limits.GetInt("max-keys-per-request"), "limits.max-keys-per-request")),
            StoreLimits: new StoreLimits(
                MaxQueueLength: Positive(limits.GetInt("max-queue-length"), "limits.max-queue-length")),
            MaxConnections: Positive(limits.GetInt("max-connections"), "limits.max-connections"),
            MaxBufferedBytesPerConnection: Positive(
                limits.GetInt("max-buffered-bytes-per-connection"), "limits.max-buffered-bytes-per-connection"),
            ReceiveChunkBytes: Range(config.GetInt("tcp.receive-chunk-bytes"), "tcp.receive-chunk-bytes", 512, 16 * 1024 * 1024),
            NoDelay: config.GetBoolean("tcp.no-delay"),
            KeepAlive: new KeepAliveSettings(
                Enabled: keepAlive.GetBoolean("enabled"),
                Idle: keepAlive.GetTimeSpan("idle"),
                Interval: keepAlive.GetTimeSpan("interval"),
                Probes: Positive(keepAlive.GetInt("probes"), "tcp.keepalive.probes")))
        {
            StoreHealthTimeout = PositiveTime(config.GetTimeSpan("health.store-timeout"), "health.store-timeout"),
            ClusterEnabled = config.GetBoolean("cluster.enabled"),
            ConnectionHosts = Range(config.GetInt("tcp.connection-hosts"), "tcp.connection-hosts", 0, 4096) switch
            {
                0 => Environment.ProcessorCount,
                var hosts => hosts,
            },
            Admin = new AdminSettings(
                Enabled: admin.GetBoolean("enabled"),
                Host: admin.GetString("host"),
                Port: Range(admin.GetInt("port"), "admin.port", 0, 65535),
                RefreshInterval: PositiveTime(admin.GetTimeSpan("refresh-interval"), "admin.refresh-interval"),
                PageSize: Positive(admin.GetInt("page-size"), "admin.page-size"),
                MaxPageSize: Positive(admin.GetInt("max-page-size"), "admin.max-page-size"),
                ValuePreviewBytes: Range(admin.GetInt("value-preview-bytes"), "admin.value-preview-bytes", 0, 65536),
                MaxAwaitedKeys: Positive(admin.GetInt("max-awaited-keys"), "admin.max-awaited-keys"),
                MaxPeersPerKey: Positive(admin.GetInt("max-peers-per-key"), "admin.max-peers-per-key")),
        };
    }

    private static TimeSpan PositiveTime(TimeSpan value, string key) =>
        value <= TimeSpan.Zero
            ? throw new ConfigurationException($"{ConfigPath}.{key} = {value} must be positive.")
            : value;

    /// <summary>One line naming every limit, for the start-up log.</summary>
    public string DescribeLimits() =>
        $"limits: key {WireLimits.MaxKeyBytes} B, value {WireLimits.MaxValueBytes} B, " +
        $"{WireLimits.MaxKeysPerRequest} keys/request, queue {StoreLimits.MaxQueueLength} items, " +
        $"{MaxConnections} connections, {MaxBufferedBytesPerConnection} buffered B/connection";

    /// <summary>Whether a peer may connect: the allowlist is empty, or one of its networks holds the address.</summary>
    public bool IsAllowed(IPAddress peer)
    {
        if (AllowedNetworks.Count == 0) return true;
        var address = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
        foreach (var network in AllowedNetworks)
        {
            if (network.Contains(address)) return true;
        }

        return false;
    }

    private static IReadOnlyList<IPNetwork> ParseNetworks(IList<string> blocks) =>
        blocks.Select(block => IPNetwork.TryParse(block, out var network)
                ? network
                : throw new ConfigurationException(
                    $"{ConfigPath}.allowed-networks: \"{block}\" is not a CIDR block (e.g. 10.0.0.0/8)."))
            .ToArray();

    private static int Positive(int value, string key) => Range(value, key, 1, int.MaxValue);

    private static int Range(int value, string key, int min, int max) =>
        value < min || value > max
            ? throw new ConfigurationException($"{ConfigPath}.{key} = {value} is out of range [{min}, {max}].")
            : value;
}

/// <summary>The admin HTTP endpoint (<c>tcpstore.admin</c>); see <c>hocon/reference.conf</c> for each key.</summary>
public sealed record AdminSettings(
    bool Enabled,
    string Host,
    int Port,
    TimeSpan RefreshInterval,
    int PageSize,
    int MaxPageSize,
    int ValuePreviewBytes,
    int MaxAwaitedKeys,
    int MaxPeersPerKey)
{
    /// <summary>The embedded defaults: off, loopback, a free port.</summary>
    public static readonly AdminSettings Default = new(false, "127.0.0.1", 0, TimeSpan.FromSeconds(2), 50, 1000, 64, 200, 500);
}

/// <summary>TCP keepalive on accepted sockets (<c>tcpstore.tcp.keepalive</c>).</summary>
public sealed record KeepAliveSettings(bool Enabled, TimeSpan Idle, TimeSpan Interval, int Probes);
