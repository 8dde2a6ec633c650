using Akka.Actor;
using Akka.Cluster.SBR;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;
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

        // Quorums count replicas: they must be on exactly the store nodes, or a quorum of store-size could be made of
        // other nodes (or miss store nodes that hold no replica).
        var replicaRole = system.Settings.Config.GetString("akka.cluster.distributed-data.role", "");
        if (replicaRole != _settings.Role)
            throw new ConfigurationException(
                $"akka.cluster.distributed-data.role is \"{replicaRole}\" but the store role ({ClusterStoreSettings.ConfigPath}.role) " +
                $"is \"{_settings.Role}\": set both to the same role, so that the replicas, and the quorums of " +
                $"{ClusterStoreSettings.ConfigPath}.store-size = {_settings.StoreSize} they count, are on the store nodes.");

        // Issue 13, hole 7: survivors that are still Joining or WeaklyUp when the first node pauses must not down
        // themselves. WeaklyUp members make their split-brain resolver responsible while it counts only Up members
        // (the paused node alone is then "the majority"); and store nodes moved to Up one by one leave a window in
        // which two Up members face each other and the tie goes to the lowest address, paused or not.
        if (cluster.Settings.AllowWeaklyUpMembers)
            throw new ConfigurationException(
                "TcpStore cluster mode needs akka.cluster.allow-weakly-up-members = off: a node that is only WeaklyUp " +
                "when the node it joined pauses downs itself (docs/CLUSTER.md, \"No split brain\").");
        var minimum = _settings.Role.Length > 0
            ? Math.Max(cluster.Settings.MinNrOfMembers, cluster.Settings.MinNrOfMembersOfRole.GetValueOrDefault(_settings.Role, 0))
            : cluster.Settings.MinNrOfMembers;
        if (minimum < _settings.StoreSize)
            throw new ConfigurationException(
                $"TcpStore cluster mode needs every store node to join before any is Up: set akka.cluster.min-nr-of-members = " +
                $"{_settings.StoreSize} ({ClusterStoreSettings.ConfigPath}.store-size; it is {minimum}; docs/CLUSTER.md, \"No split brain\"). " +
                "The role's own key (akka.cluster.role.<role>.min-nr-of-members) serves the default store too, but not named stores.");

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
                SingletonProps(_store.Store, _settings, replicator),
                PoisonPill.Instance,
                // The removal margin keeps two singletons from overlapping after a partition; the epochs make an
                // overlap harmless (the older one answers nothing more), so it is short (docs/CLUSTER.md).
                ClusterSingletonManagerSettings.Create(system).WithRole(role).WithSingletonName(singletonName)
                    .WithRemovalMargin(_settings.SingletonRemovalMargin)),
            "singleton");
        var proxy = guardian.ActorOf(
            ClusterSingletonProxy.Props(
                manager.Path.ToStringWithoutAddress(),
                ClusterSingletonProxySettings.Create(system).WithRole(role).WithSingletonName(singletonName)),
            "singleton-proxy");
        var readiness = guardian.ActorOf(ClusterReadiness.Props(_settings), "readiness");
        return guardian.ActorOf(StoreGateway.Props(proxy, _settings, readiness), "store");
    }

    /// <summary>What the singleton manager starts on the oldest node: the store under a parent that never restarts it.</summary>
    internal static Props SingletonProps(StoreLimits limits, ClusterStoreSettings settings, IActorRef replicator) =>
        StoreSingleton.Props(ReplicatedStoreActor.Props(limits, settings, replicator), settings.FencedRestartDelay);
}
