using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Says when this node's cluster store is ready: the log line <c>TcpStore cluster ready</c>, once every one of the
/// <c>store-size</c> store nodes is Up in this node's view (the cluster has formed) and the node's
/// <see cref="StoreGateway"/> has found the store (issue 13, hole 7: start jobs after this line, not after the
/// listener's READY). Also logs an error when more store nodes are Up than <c>store-size</c>: quorums of it would no
/// longer intersect.
/// </summary>
internal sealed class ClusterReadiness : ReceiveActor
{
    /// <summary>From the gateway: it has found the store (again, after a failover).</summary>
    public sealed record StoreFound(IActorRef Store);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterStoreSettings _settings;
    private readonly global::Akka.Cluster.Cluster _cluster;
    private readonly HashSet<UniqueAddress> _upStoreNodes = [];
    private IActorRef? _store;
    private bool _ready, _tooMany;

    public static Props Props(ClusterStoreSettings settings) =>
        global::Akka.Actor.Props.Create(() => new ClusterReadiness(settings));

    public ClusterReadiness(ClusterStoreSettings settings)
    {
        _settings = settings;
        _cluster = global::Akka.Cluster.Cluster.Get(Context.System);

        Receive<StoreFound>(found =>
        {
            _store = found.Store;
            AnnounceReady();
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            var member = e.Member;
            if (_settings.Role.Length > 0 && !member.HasRole(_settings.Role)) return;
            if (e is ClusterEvent.MemberUp) _upStoreNodes.Add(member.UniqueAddress);
            else if (e is ClusterEvent.MemberRemoved or ClusterEvent.MemberExited or ClusterEvent.MemberLeft or ClusterEvent.MemberDowned)
                _upStoreNodes.Remove(member.UniqueAddress);
            if (_upStoreNodes.Count > _settings.StoreSize && !_tooMany)
            {
                _tooMany = true;
                _log.Error("{0} store nodes are Up but {1}.store-size is {2}: quorums of {3} no longer intersect; set store-size " +
                           "to the number of store nodes on every node (docs/CLUSTER.md)", _upStoreNodes.Count,
                    ClusterStoreSettings.ConfigPath, _settings.StoreSize, _settings.Quorum);
            }
            AnnounceReady();
        });
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void AnnounceReady()
    {
        if (_ready || _store is null || _upStoreNodes.Count < _settings.StoreSize || !_upStoreNodes.Contains(_cluster.SelfUniqueAddress)) return;
        _ready = true;
        _log.Info("TcpStore cluster ready on {0}: {1} of {2} store nodes Up, store at {3}",
            _cluster.SelfAddress, _upStoreNodes.Count, _settings.StoreSize, _store.Path);
    }
}
