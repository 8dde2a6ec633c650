using System.Text;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Options of <c>WithTcpStoreCluster</c>: the store's own (<see cref="Store"/>) and cluster mode's. Only the properties
/// that are set are written into HOCON (under <c>tcpstore.cluster</c>); the embedded reference configuration fills in
/// the rest (each key is explained in <c>hocon/reference.conf</c>).
/// </summary>
public sealed class TcpStoreClusterOptions
{
    /// <summary>The store's options, as for a standalone store (host, port, limits, …).</summary>
    public TcpStoreOptions Store { get; set; } = new();

    /// <summary><c>tcpstore.cluster.role</c>: the nodes that serve clients, hold replicas and may host the store.</summary>
    public string? Role { get; set; }

    /// <summary>
    /// <c>tcpstore.cluster.store-size</c>: how many store nodes the cluster has; quorums are majorities of it. When set,
    /// the options also write what cluster mode needs of Akka for it: <c>akka.cluster.min-nr-of-members</c>
    /// (every store node joins before any is Up) and <c>akka.cluster.allow-weakly-up-members = off</c>.
    /// </summary>
    public int? StoreSize { get; set; }

    /// <summary><c>tcpstore.cluster.buckets</c>: replicated entries the state is split into; the same on every node.</summary>
    public int? Buckets { get; set; }

    /// <summary><c>tcpstore.cluster.write-timeout</c>: how long a write waits for a majority before it is sent again.</summary>
    public TimeSpan? WriteTimeout { get; set; }

    /// <summary><c>tcpstore.cluster.read-timeout</c>: how long a new singleton waits for a majority's copy of a bucket.</summary>
    public TimeSpan? ReadTimeout { get; set; }

    /// <summary><c>tcpstore.cluster.identify-interval</c>: how often a node asks where the singleton is while it does not know.</summary>
    public TimeSpan? IdentifyInterval { get; set; }

    /// <summary>The HOCON of cluster mode: <c>tcpstore.cluster.enabled = on</c> and the properties that are set.</summary>
    public Config ToConfig()
    {
        var hocon = new StringBuilder();
        Write(hocon, "enabled", true.ToHocon());
        Write(hocon, "role", Role?.ToHocon());
        Write(hocon, "store-size", StoreSize?.ToHocon());
        if (StoreSize is { } storeSize)
        {
            // The cluster-wide key, not the role's: Akka.Cluster.Sharding's coordinator (named stores) would wait for
            // that many nodes of the role each time it moves (docs/CLUSTER.md, "Named stores").
            hocon.Append("akka.cluster.min-nr-of-members = ").Append(storeSize).Append('\n');
            hocon.Append("akka.cluster.allow-weakly-up-members = off\n");
        }
        Write(hocon, "buckets", Buckets?.ToHocon());
        Write(hocon, "write-timeout", WriteTimeout?.ToHocon());
        Write(hocon, "read-timeout", ReadTimeout?.ToHocon());
        Write(hocon, "identify-interval", IdentifyInterval?.ToHocon());
        return ConfigurationFactory.ParseString(hocon.ToString());
    }

    private static void Write(StringBuilder hocon, string key, string? value)
    {
        if (value is null) return;
        hocon.Append(ClusterStoreSettings.ConfigPath).Append('.').Append(key).Append(" = ").Append(value).Append('\n');
    }
}
