using Akka.Actor;
using Akka.Event;
using TcpStore.Protocol;
using TcpStore.Akka.Telemetry;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Store;

/// <summary>
/// The standalone store: the only owner of the key/value map, the queues and the waiter lists, which live in its
/// <see cref="StoreEngine"/>. Every query runs here, one batch at a time, so no locking is needed. The actor never
/// blocks, never asks and has no timers; replies go straight to the connection that sent the batch.
/// </summary>
/// <remarks>
/// An <see cref="UntypedActor"/> with a type switch rather than a ReceiveActor: every request of every connection
/// passes here, and the ReceiveActor's compiled handler chain was about 5 % of the server's CPU per request
/// (docs/PERFORMANCE.md, "Event loops").
/// </remarks>
public sealed class StoreActor : UntypedActor
{
    private readonly StoreEngine _engine;
    private readonly StoreGauges _gauges;
    private readonly IActorRef _self;

    private StoreActor(StoreLimits limits, StoreMetrics metrics, Action<Query>? faultInjector)
    {
        var self = _self = Self;
        _gauges = new StoreGauges(metrics.Store);
        _engine = new StoreEngine(
            limits,
            connection => connection.Tell(WaitCompleted.Instance, self),
            Context.GetLogger(),
            changes: null,
            faultInjector,
            metrics);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Execute m:
                m.Connection.Tell(_engine.Execute(m.Connection, m.Queries), _self);
                _engine.PublishGauges(_gauges);
                break;
            case ConnectionClosed m:
                _engine.Forget(m.Connection);
                _engine.PublishGauges(_gauges);
                break;
            case GetStats:
                Sender.Tell(_engine.Stats());
                break;
            case GetWaiters m:
                Sender.Tell(_engine.ListWaiters(m));
                break;
            case GetBarriers m:
                Sender.Tell(_engine.ListBarriers(m));
                break;
            case ListEntries m:
                Sender.Tell(_engine.ListEntriesPage(m));
                break;
            case ListQueues m:
                Sender.Tell(_engine.ListQueueNames(m));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PreStart() => TcpStoreMetrics.Register(_gauges);

    protected override void PostStop() => TcpStoreMetrics.Unregister(_gauges);

    /// <summary>A store counting through <paramref name="metrics"/> (its guardian's; the default store's when null).</summary>
    public static Props Props(StoreLimits limits, StoreMetrics? metrics = null) => Create(limits, metrics ?? TcpStoreMetrics.Unmanaged, null);

    /// <summary>
    /// Test hook: <paramref name="faultInjector"/> runs before each query and may throw, to exercise the
    /// internal-error path (no query of the closed <see cref="Query"/> union can fail unexpectedly on demand).
    /// </summary>
    internal static Props Props(StoreLimits limits, Action<Query> faultInjector)
    {
        ArgumentNullException.ThrowIfNull(faultInjector);
        return Create(limits, TcpStoreMetrics.Unmanaged, faultInjector);
    }

    private static Props Create(StoreLimits limits, StoreMetrics metrics, Action<Query>? faultInjector)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(limits.MaxQueueLength);
        // A producer keeps the constructor (and the test hook) private; reflection would need a public one.
        return global::Akka.Actor.Props.CreateBy(new Producer(limits, metrics, faultInjector));
    }

    private sealed class Producer(StoreLimits limits, StoreMetrics metrics, Action<Query>? faultInjector) : IIndirectActorProducer
    {
        public Type ActorType => typeof(StoreActor);

        public ActorBase Produce() => new StoreActor(limits, metrics, faultInjector);

        public void Release(ActorBase actor) { }
    }
}
