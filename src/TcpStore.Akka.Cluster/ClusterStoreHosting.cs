using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.DistributedData;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// How cluster mode makes each store (<c>WithTcpStoreCluster</c>): the default store as the cluster singleton
/// (<see cref="ClusterStoreProvider"/>), every named store as an entity of Akka.Cluster.Sharding
/// (<see cref="StoreEntity"/>) reached through its node's gateway (<see cref="ShardedStoreProvider"/>), and the
/// <see cref="StoreCatalog"/> that creates and removes named stores on every node.
/// </summary>
internal sealed class ClusterStoreHosting : IStoreHosting
{
    /// <summary>The sharding type name of the named stores.</summary>
    public const string TypeName = "tcpstore";

    private readonly ActorSystem _system;
    private readonly ClusterStoreSettings _settings;
    private readonly IActorRef _region;

    private ClusterStoreHosting(ActorSystem system, ClusterStoreSettings settings, IActorRef region, IActorRef replicator)
    {
        _system = system;
        _settings = settings;
        _region = region;
        Catalog = StoreCatalog.Props(settings, replicator, region);
    }

    /// <summary>Checks the node's configuration (as <see cref="ClusterStoreProvider"/> does) and starts the shard region
    /// of the named stores on it.</summary>
    public static async Task<IStoreHosting> CreateAsync(ActorSystem system)
    {
        _ = new ClusterStoreProvider(system, TcpStoreSettings.Create(system)); // refuses a misconfigured node, saying why
        var settings = ClusterStoreSettings.Create(system.Settings.Config.GetConfig(ClusterStoreSettings.ConfigPath));
        var replicator = DistributedData.Get(system).Replicator;
        var region = await ClusterSharding.Get(system).StartAsync(
            TypeName,
            entityId => StoreEntity.Props(entityId, settings, replicator),
            ShardingSettings(system, settings),
            StoreShardExtractor.Instance,
            // At most 3 stores (and a tenth of them) move per rebalance round, when rebalancing is on.
            new StoreAllocationStrategy(ShardAllocationStrategy.LeastShardAllocationStrategy(3, 0.1), settings.Rebalance),
            StoreEntity.HandOff.Instance).ConfigureAwait(false);
        return new ClusterStoreHosting(system, settings, region, replicator);
    }

    /// <summary>
    /// The system's <c>akka.cluster.sharding</c> with what the stores need over it: the stores' role; the coordinator's
    /// state in DistributedData (no journal to run); no remember-entities (the gateways' probes bring a store back, see
    /// <see cref="StoreEntity"/>); no passivation of idle stores (a store waiting for a barrier is idle, and passivating
    /// it would drop its waiters).
    /// </summary>
    private static ClusterShardingSettings ShardingSettings(ActorSystem system, ClusterStoreSettings settings)
    {
        var sharding = ConfigurationFactory.ParseString($$"""
            role = "{{settings.Role}}"
            state-store-mode = ddata
            remember-entities = off
            passivate-idle-entity-after = off
            """).WithFallback(system.Settings.Config.GetConfig("akka.cluster.sharding"));
        var singleton = system.Settings.Config.GetConfig(sharding.GetString("coordinator-singleton"));
        return ClusterShardingSettings.Create(sharding, singleton);
    }

    public Props? Catalog { get; }

    /// <summary>
    /// Why this node cannot serve named stores, or null. Akka.Cluster.Sharding's coordinator answers nothing after it
    /// moves (its node lost) until as many nodes of its role have registered as the role's <c>min-nr-of-members</c>
    /// (or, without a role, the cluster's): with store-size nodes required, a cluster that lost one would never place
    /// a store again. So the sharding runs on the store role, whose own minimum must stay unset (the cluster-wide key
    /// keeps every store node from being Up before all have joined).
    /// </summary>
    internal static string? NamedStoresRefusal(ActorSystem system, ClusterStoreSettings settings)
    {
        if (settings.Role.Length == 0)
            return $"cluster mode serves named stores on the nodes of a role ({ClusterStoreSettings.ConfigPath}.role, \"tcpstore\" by " +
                   "default); with every node of the cluster a store node, Akka.Cluster.Sharding's coordinator would wait for " +
                   "akka.cluster.min-nr-of-members nodes after a node is lost";
        var roleMinimum = global::Akka.Cluster.Cluster.Get(system).Settings.MinNrOfMembersOfRole.GetValueOrDefault(settings.Role, 1);
        return roleMinimum > 1
            ? $"cluster mode serves named stores only without akka.cluster.role.{settings.Role}.min-nr-of-members (it is {roleMinimum}): " +
              "Akka.Cluster.Sharding's coordinator would wait for that many nodes of the role after a node is lost; set " +
              "akka.cluster.min-nr-of-members instead (docs/CLUSTER.md, \"Named stores\")"
            : null;
    }

    public IStoreProvider ProviderFor(string name, TcpStoreSettings settings)
    {
        if (name == TcpStoreManager.DefaultStoreName) return new ClusterStoreProvider(_system, settings);
        if (NamedStoresRefusal(_system, _settings) is { } refusal) throw new ConfigurationException($"store \"{name}\": {refusal}");
        if (settings.Listener.Port == 0)
            throw new ConfigurationException(
                $"cluster mode: the named store \"{name}\" needs a port of its own, the same on every node " +
                $"({TcpStoreSettings.ConfigPath}.stores.{name}.port; port 0 would pick a different free port on each node)");
        var incarnation = settings.Section.GetString(StoreCatalog.IncarnationPath, null) ?? StoreCatalog.DeclaredIncarnation;
        return new ShardedStoreProvider(_region, name, incarnation, settings.Store.MaxQueueLength,
            active: incarnation == StoreCatalog.DeclaredIncarnation, _settings);
    }
}
