using Akka.Configuration;
using Akka.DistributedData;

namespace TcpStore.Akka.Cluster;

/// <summary>Cluster mode's settings, from <c>tcpstore.cluster</c> (every key is documented in reference.conf).</summary>
/// <param name="Role">Nodes with this role serve clients, hold replicas and may host the store; empty: every node.</param>
/// <param name="StoreSize">How many store nodes the cluster has: every quorum is a majority of this many, whatever the membership is now.</param>
/// <param name="Buckets">How many replicated entries the state is split into; the same on every node.</param>
/// <param name="WriteTimeout">How long a write waits for a quorum before it is sent again.</param>
/// <param name="ReadTimeout">How long a read (a recovery's, an epoch confirmation's) waits for a quorum before it is asked again.</param>
/// <param name="IdentifyInterval">How often a node asks where the singleton is while it does not know.</param>
/// <param name="RetryInterval">How long a quorum operation that failed waits before it is tried again.</param>
/// <param name="JournalLimit">Changes the journal holds before they are copied into the buckets (also copied whenever the store is idle).</param>
/// <param name="FencedRestartDelay">How long a singleton that found a newer epoch waits before it starts again on this node.</param>
/// <param name="SingletonRemovalMargin">The singleton manager's wait after the old singleton's node was removed.</param>
/// <param name="Lease">Zero: every reply waits for its own epoch confirmation. Positive: a confirmation vouches for replies for this long (a successor waits it out).</param>
/// <param name="Rebalance">Named stores: whether Akka's shard allocation may move stores between live nodes to even them out (each move is a takeover).</param>
/// <param name="CatalogTimeout">Named stores: how long creating or removing one waits for each node and for a quorum.</param>
/// <param name="CatalogInterval">Named stores: how often each node compares its stores with the replicated catalog.</param>
public sealed record ClusterStoreSettings(
    string Role,
    int StoreSize,
    int Buckets,
    TimeSpan WriteTimeout,
    TimeSpan ReadTimeout,
    TimeSpan IdentifyInterval,
    TimeSpan RetryInterval,
    int JournalLimit,
    TimeSpan FencedRestartDelay,
    TimeSpan SingletonRemovalMargin,
    TimeSpan Lease,
    bool Rebalance,
    TimeSpan CatalogTimeout,
    TimeSpan CatalogInterval)
{
    public const string ConfigPath = "tcpstore.cluster";

    /// <summary>Replicas every read and write reaches: a majority of <see cref="StoreSize"/>, so that any two intersect.</summary>
    public int Quorum => StoreSize / 2 + 1;

    /// <summary>A write that reaches <see cref="Quorum"/> replicas (this node's included), or fails.</summary>
    internal IWriteConsistency WriteQuorum => Quorum == 1 ? WriteLocal.Instance : new WriteTo(Quorum, WriteTimeout);

    /// <summary>A read that merges <see cref="Quorum"/> replicas (this node's included), or fails.</summary>
    internal IReadConsistency ReadQuorum => Quorum == 1 ? ReadLocal.Instance : new ReadFrom(Quorum, ReadTimeout);

    /// <summary>Reads <c>tcpstore.cluster</c> (the core's embedded reference.conf supplies every default).</summary>
    public static ClusterStoreSettings Create(Config tcpstoreCluster)
    {
        if (tcpstoreCluster.IsNullOrEmpty())
            throw new ConfigurationException($"{ConfigPath} is missing (the embedded reference.conf supplies it).");
        return new ClusterStoreSettings(
            Role: tcpstoreCluster.GetString("role") ?? "",
            StoreSize: InRange(tcpstoreCluster, "store-size", 1, 99),
            Buckets: InRange(tcpstoreCluster, "buckets", 1, 4096),
            WriteTimeout: Positive(tcpstoreCluster, "write-timeout"),
            ReadTimeout: Positive(tcpstoreCluster, "read-timeout"),
            IdentifyInterval: Positive(tcpstoreCluster, "identify-interval"),
            RetryInterval: Positive(tcpstoreCluster, "retry-interval"),
            JournalLimit: InRange(tcpstoreCluster, "journal-limit", 1, 10_000_000),
            FencedRestartDelay: Positive(tcpstoreCluster, "fenced-restart-delay"),
            SingletonRemovalMargin: Positive(tcpstoreCluster, "singleton-removal-margin"),
            Lease: NotNegative(tcpstoreCluster, "lease"),
            Rebalance: tcpstoreCluster.GetBoolean("named-stores.rebalance"),
            CatalogTimeout: Positive(tcpstoreCluster, "named-stores.timeout"),
            CatalogInterval: Positive(tcpstoreCluster, "named-stores.catalog-interval"));
    }

    private static int InRange(Config config, string key, int min, int max)
    {
        var value = config.GetInt(key);
        return value >= min && value <= max
            ? value
            : throw new ConfigurationException($"{ConfigPath}.{key} = {value} is out of range [{min}, {max}].");
    }

    private static TimeSpan NotNegative(Config config, string key)
    {
        var value = config.GetTimeSpan(key);
        return value >= TimeSpan.Zero
            ? value
            : throw new ConfigurationException($"{ConfigPath}.{key} = {value} must not be negative.");
    }

    private static TimeSpan Positive(Config config, string key)
    {
        var value = config.GetTimeSpan(key);
        return value > TimeSpan.Zero
            ? value
            : throw new ConfigurationException($"{ConfigPath}.{key} = {value} must be positive.");
    }
}
