using Akka.Configuration;

namespace TcpStore.Akka.Cluster;

/// <summary>Cluster mode's settings, from <c>tcpstore.cluster</c> (every key is documented in reference.conf).</summary>
/// <param name="Role">Nodes with this role serve clients, hold replicas and may host the store; empty: every node.</param>
/// <param name="Buckets">How many replicated entries the state is split into; the same on every node.</param>
/// <param name="WriteTimeout">How long a write waits for a majority before it is sent again.</param>
/// <param name="ReadTimeout">How long a new singleton waits for a majority's copy of a bucket before it asks again.</param>
/// <param name="IdentifyInterval">How often a node asks where the singleton is while it does not know.</param>
public sealed record ClusterStoreSettings(
    string Role,
    int Buckets,
    TimeSpan WriteTimeout,
    TimeSpan ReadTimeout,
    TimeSpan IdentifyInterval)
{
    public const string ConfigPath = "tcpstore.cluster";

    /// <summary>Reads <c>tcpstore.cluster</c> (the core's embedded reference.conf supplies every default).</summary>
    public static ClusterStoreSettings Create(Config tcpstoreCluster)
    {
        if (tcpstoreCluster.IsNullOrEmpty())
            throw new ConfigurationException($"{ConfigPath} is missing (the embedded reference.conf supplies it).");
        var buckets = tcpstoreCluster.GetInt("buckets");
        if (buckets is < 1 or > 4096)
            throw new ConfigurationException($"{ConfigPath}.buckets = {buckets} is out of range [1, 4096].");
        return new ClusterStoreSettings(
            Role: tcpstoreCluster.GetString("role") ?? "",
            Buckets: buckets,
            WriteTimeout: Positive(tcpstoreCluster, "write-timeout"),
            ReadTimeout: Positive(tcpstoreCluster, "read-timeout"),
            IdentifyInterval: Positive(tcpstoreCluster, "identify-interval"));
    }

    private static TimeSpan Positive(Config config, string key)
    {
        var value = config.GetTimeSpan(key);
        return value > TimeSpan.Zero
            ? value
            : throw new ConfigurationException($"{ConfigPath}.{key} = {value} must be positive.");
    }
}
