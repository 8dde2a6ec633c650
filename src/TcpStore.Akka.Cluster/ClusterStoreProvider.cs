using Akka.Actor;
using Akka.Cluster.SBR;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Cluster mode's store provider (<see cref="TcpStoreClusterHostingExtensions"/>: <c>WithTcpStoreCluster</c>).
/// On every node of the role it starts, under the TcpStore guardian: the singleton manager of the
/// <see cref="ReplicatedStoreActor"/> (<c>singleton</c>), a proxy to find it (<c>singleton-proxy</c>), and the
/// <see cref="StoreGateway"/> (<c>store</c>) the node's connections talk to.
/// </summary>
internal sealed class ClusterStoreProvider : IStoreProvider
{
    /// <summary>Room for a key, the message's framing and the actor paths around the largest value.</summary>
    private const long FrameHeadroom = 64 * 1024;

    private readonly TcpStoreSettings _store;
    private readonly ClusterStoreSettings _settings;

    /// <summary>Checks what cluster mode relies on, so that a misconfigured node fails to start with the reason.</summary>
    public ClusterStoreProvider(ActorSystem system, TcpStoreSettings store)
    {
        _store = store;
        _settings = ClusterStoreSettings.Create(system.Settings.Config.GetConfig(ClusterStoreSettings.ConfigPath));

        global::Akka.Cluster.Cluster cluster;
        try
        {
            cluster = global::Akka.Cluster.Cluster.Get(system);
        }
        catch (ConfigurationException e)
        {
            throw new ConfigurationException(
                $"TcpStore cluster mode needs akka.actor.provider = cluster (WithClustering) ({e.Message})", e);
        }

        // Without a downing provider a crashed node is never removed, so its singleton never moves; a downing
        // provider other than Akka's split-brain resolver could keep both sides of a partition (two singletons).
        if (cluster.DowningProvider is not SplitBrainResolverProvider)
            throw new ConfigurationException(
                "TcpStore cluster mode needs Akka's split-brain resolver: " +
                "akka.cluster.downing-provider-class = \"Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster\" " +
                $"(is {cluster.DowningProvider.GetType().FullName}).");

        if (_settings.Role.Length > 0 && !cluster.SelfRoles.Contains(_settings.Role))
            throw new ConfigurationException(
                $"This node lacks the role \"{_settings.Role}\" ({ClusterStoreSettings.ConfigPath}.role), so it cannot " +
                $"serve the store; add it to akka.cluster.roles (the node has [{string.Join(", ", cluster.SelfRoles)}]).");

        // Requests and replies cross nodes as single Akka.Remote messages: a frame must hold the largest value.
        var frame = system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", null) ?? 128000;
        var maxValue = store.Listener.WireLimits.MaxValueBytes;
        var needed = maxValue + FrameHeadroom;
        if (frame < needed)
            throw new ConfigurationException(
                $"akka.remote.dot-netty.tcp.maximum-frame-size ({frame} bytes) cannot carry the largest value " +
                $"(tcpstore.limits.max-value-bytes = {maxValue}) from one node to another; " +
                $"raise it to at least {needed} bytes (hocon/cluster-local.conf uses 32MiB), or lower the limit.");

        var replicaRole = system.Settings.Config.GetString("akka.cluster.distributed-data.role", "");
        if (replicaRole.Length > 0 && !cluster.SelfRoles.Contains(replicaRole))
            throw new ConfigurationException(
                $"This node lacks the role \"{replicaRole}\" of akka.cluster.distributed-data.role, so it would " +
                "hold no replica and could not write; give the store nodes that role.");

        var strategy = system.Settings.Config.GetString("akka.cluster.split-brain-resolver.active-strategy");
        if (strategy != "keep-majority")
            Logging.GetLogger(system, typeof(ClusterStoreProvider)).Warning(
                "The split-brain resolver's strategy is {0}; docs/CLUSTER.md assumes keep-majority", strategy);

        system.Settings.InjectTopLevelFallback(ClusterSingleton.DefaultConfig());
    }

    public IActorRef CreateStore(IActorContext guardian, StoreMetrics metrics)
    {
        var system = guardian.System;
        var role = _settings.Role.Length > 0 ? _settings.Role : null;

        // The system's replicator (Akka's own is internal, one per system): "majority" counts the nodes of
        // akka.cluster.distributed-data.role, every node unless it is set (docs/CLUSTER.md: set it to the role).
        var replicator = DistributedData.Get(system).Replicator;

        const string singletonName = "store";
        var manager = guardian.ActorOf(
            ClusterSingletonManager.Props(
                ReplicatedStoreActor.Props(_store.Store, _settings, replicator),
                PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(role).WithSingletonName(singletonName)),
            "singleton");
        var proxy = guardian.ActorOf(
            ClusterSingletonProxy.Props(
                manager.Path.ToStringWithoutAddress(),
                ClusterSingletonProxySettings.Create(system).WithRole(role).WithSingletonName(singletonName)),
            "singleton-proxy");
        return guardian.ActorOf(StoreGateway.Props(proxy, _settings), "store");
    }
}
