using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Runs many connections' streams in one stream actor: for every accepted connection that reaches it, it
/// materializes the listener's connection blueprint with the stage's sub-fusing materializer, so the connection's
/// stages become one more interpreter shell of this stage's actor instead of an actor of their own. Connections
/// arrive through its inlet (the sockets transport) or, when it is given <c>started</c>, also as messages to its
/// stage actor, which it hands to <c>started</c> once it runs (the epoll transport: the listener on an event loop
/// tells the host of each loop directly, a queue push when both are on one loop).
/// </summary>
/// <remarks>
/// An actor per connection costs its creation, start and stop in a connection storm and its cell in an idle
/// connection's memory (docs/PERFORMANCE.md, "connection hosts"). The listener runs a few hosts (one per core, or
/// one per event loop) and deals connections to them in turn. A connection is still a stream of its own: it fails,
/// completes and is cleaned up alone, and nothing of it reaches the host stage — the blueprint is a closed graph, so
/// a connection's failure cannot fail the host or its other connections.
/// </remarks>
internal sealed class ConnectionHost : GraphStage<SinkShape<AcceptedConnection>>
{
    private readonly IGraph<ClosedShape, NotUsed> _connection;
    private readonly Action<Exception> _notStarted;
    private readonly Action<IActorRef>? _started;
    private readonly UnclaimedConnections _unclaimed;

    /// <param name="connection">The fused connection blueprint; its stages read their socket from <see cref="AcceptedConnection"/>.</param>
    /// <param name="notStarted">Called (on the host's thread) for a connection whose stream could not start; the socket is closed.</param>
    /// <param name="started">When given, called (on the host's thread) with the host's stage actor, which takes
    /// <see cref="AcceptedConnection"/> messages as the inlet takes elements.</param>
    /// <param name="unclaimed">The listener's connections that no host claimed yet; a host claims each before it
    /// starts it, and skips one the listener closed first.</param>
    public ConnectionHost(IGraph<ClosedShape, NotUsed> connection, Action<Exception> notStarted,
        Action<IActorRef>? started = null, UnclaimedConnections? unclaimed = null)
    {
        _connection = connection;
        _notStarted = notStarted;
        _started = started;
        _unclaimed = unclaimed ?? new UnclaimedConnections();
        Shape = new SinkShape<AcceptedConnection>(In);
    }

    public Inlet<AcceptedConnection> In { get; } = new("ConnectionHost.in");

    public override SinkShape<AcceptedConnection> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("tcpstore-connection-host");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InGraphStageLogic
    {
        private readonly ConnectionHost _stage;

        public Logic(ConnectionHost stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.In, this);
        }

        public override void PreStart()
        {
            Pull(_stage.In);
            if (_stage._started is { } started)
            {
                started(GetStageActor(message =>
                {
                    if (message.Item2 is AcceptedConnection accepted) Start(accepted);
                }).Ref);
            }
        }

        public override void OnPush()
        {
            Start(Grab(_stage.In));
            Pull(_stage.In);
        }

        private void Start(AcceptedConnection accepted)
        {
            if (!_stage._unclaimed.Claim(accepted)) return; // closed by the listener's stop
            try
            {
                SubFusingMaterializer.Materialize(_stage._connection, new Attributes(accepted));
            }
            catch (Exception e)
            {
                accepted.Close();
                _stage._notStarted(e);
            }
        }

        // The listener stops feeding this host when it stops; the connections it runs stay until the
        // materializer (the listener's) shuts down. A host fed through its stage actor has an inlet that never
        // finishes.
        public override void OnUpstreamFinish() => CompleteStage();
    }
}
