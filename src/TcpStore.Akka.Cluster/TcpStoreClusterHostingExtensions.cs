using Akka.Hosting;
using TcpStore.Akka.Cluster.Serialization;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Akka.Hosting entry points of cluster mode: <c>builder.WithTcpStoreCluster(...)</c>, next to Akka.Cluster.Hosting's
/// <c>WithRemoting</c> and <c>WithClustering</c>, which configure the cluster the store runs on (docs/CLUSTER.md).
/// </summary>
public static class TcpStoreClusterHostingExtensions
{
    /// <summary>Runs the store in cluster mode on the nodes of <paramref name="role"/>, listening on
    /// <paramref name="port"/> when given (else as configured under <c>tcpstore</c>).</summary>
    public static AkkaConfigurationBuilder WithTcpStoreCluster(
        this AkkaConfigurationBuilder builder, string? role = null, int? port = null) =>
        builder.WithTcpStoreCluster(new TcpStoreClusterOptions { Role = role, Store = { Port = port } });

    /// <summary>Runs the store in cluster mode, with options set by <paramref name="configure"/>.</summary>
    public static AkkaConfigurationBuilder WithTcpStoreCluster(
        this AkkaConfigurationBuilder builder, Action<TcpStoreClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TcpStoreClusterOptions();
        configure(options);
        return builder.WithTcpStoreCluster(options);
    }

    /// <summary>
    /// Runs the store in cluster mode: as <c>WithTcpStore</c> does standalone (the same listener, settings, registry
    /// entries and health checks), but with the store as a cluster singleton whose state is replicated with
    /// Akka.DistributedData, and the cluster serializer for the messages between nodes. The actor system must be a
    /// cluster with Akka's split-brain resolver (the node refuses to start otherwise, saying what to change).
    /// </summary>
    public static AkkaConfigurationBuilder WithTcpStoreCluster(
        this AkkaConfigurationBuilder builder, TcpStoreClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return builder
            .AddHocon(options.ToConfig(), HoconAddMode.Prepend)
            .WithCustomSerializer(StoreMessageSerializer.Name, StoreMessageSerializer.MessageTypes,
                system => new StoreMessageSerializer(system))
            .WithTcpStore(options.Store, ClusterStoreHosting.CreateAsync);
    }
}
