using Akka.Actor;
using Akka.Event;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// What the cluster singleton manager runs on the oldest store node: a parent that keeps one
/// <see cref="ReplicatedStoreActor"/> alive under a new name each time (<c>store-1</c>, <c>store-2</c>, ...). A store
/// that fails is stopped, never restarted in place: a restarted actor keeps its ref, so the nodes' gateways would
/// never see it go and the connections it owed answers would hang (issue 13, hole 6). Stopped, it is
/// <c>Terminated</c> for every gateway watching it, whose connections with an answer outstanding close
/// (<see cref="StoreProtocol.StoreLost"/>), and its successor takes over the replicated state as on a failover.
/// </summary>
/// <remarks>
/// A store that stopped because another singleton has claimed a later epoch (<see cref="ReplicatedStoreActor.Fenced"/>)
/// is replaced only after <c>fenced-restart-delay</c>: normally this node is about to learn that it is no longer the
/// oldest (or that it was removed), and an immediate successor would only take the store back from the one that
/// replaced it. The gateways reach the store itself; what comes through the singleton proxy (their search for it)
/// is forwarded to the current one.
/// </remarks>
internal sealed class StoreSingleton : ReceiveActor, IWithTimers
{
    private sealed record StartStore
    {
        public static readonly StartStore Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Props _store;
    private readonly TimeSpan _fencedRestartDelay;
    private IActorRef? _current;
    private int _incarnation;
    private bool _fenced;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Props store, TimeSpan fencedRestartDelay) =>
        global::Akka.Actor.Props.Create(() => new StoreSingleton(store, fencedRestartDelay));

    public StoreSingleton(Props store, TimeSpan fencedRestartDelay)
    {
        _store = store;
        _fencedRestartDelay = fencedRestartDelay;

        Receive<StartStore>(_ => Start());
        Receive<ReplicatedStoreActor.Fenced>(_ => _fenced = Sender.Equals(_current));
        Receive<Terminated>(terminated =>
        {
            if (!terminated.ActorRef.Equals(_current)) return;
            _current = null;
            if (_fenced)
            {
                _log.Warning("TcpStore store {0} was replaced by another singleton; starting a new one here in {1} s unless this node hands over first",
                    terminated.ActorRef.Path.Name, _fencedRestartDelay.TotalSeconds);
                Timers.StartSingleTimer(StartStore.Instance, StartStore.Instance, _fencedRestartDelay);
            }
            else
            {
                _log.Warning("TcpStore store {0} stopped; starting a new one, which takes the state over from a quorum",
                    terminated.ActorRef.Path.Name);
                Start();
            }
        });
        ReceiveAny(message =>
        {
            // Between a store and its successor nothing is there to answer: a gateway asks again.
            _current?.Forward(message);
        });
    }

    protected override void PreStart() => Start();

    /// <summary>Any failure stops the store; a restart would keep its ref (see the summary).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void Start()
    {
        if (_current is not null) return;
        _fenced = false;
        _current = Context.ActorOf(_store, $"store-{++_incarnation}");
        Context.Watch(_current);
    }
}
