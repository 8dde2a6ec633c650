using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Runs many connections' streams in one stream actor: for every accepted socket that reaches its inlet it
/// materializes the listener's connection blueprint with the stage's sub-fusing materializer, so the connection's
/// stages become one more interpreter shell of this stage's actor instead of an actor of their own.
/// </summary>
/// <remarks>
/// An actor per connection costs its creation, start and stop in a connection storm and its cell in an idle
/// connection's memory (docs/PERFORMANCE.md, "connection hosts"). The listener runs a few hosts, one per
/// core by default (<c>tcpstore.tcp.connection-hosts</c>), and deals sockets to them in turn. A connection is still
/// a stream of its own: it fails, completes and is cleaned up alone, and nothing of it reaches the host stage — the
/// blueprint is a closed graph, so a connection's failure cannot fail the host or its other connections.
/// </remarks>
internal sealed class ConnectionHost : GraphStage<SinkShape<AcceptedSocket>>
{
    private readonly IGraph<ClosedShape, NotUsed> _connection;
    private readonly Action<Exception> _notStarted;
    private readonly AcceptedSocketTracker _tracker;

    /// <param name="connection">The fused connection blueprint; its stages read their socket from <see cref="AcceptedSocket"/>.</param>
    /// <param name="notStarted">Called (on the host's thread) for a socket whose stream could not start; the socket is closed.</param>
    /// <param name="tracker">The listener's sockets nobody owns yet: a socket leaves it when its stream owns it.</param>
    public ConnectionHost(IGraph<ClosedShape, NotUsed> connection, Action<Exception> notStarted, AcceptedSocketTracker? tracker = null)
    {
        _connection = connection;
        _notStarted = notStarted;
        _tracker = tracker ?? new AcceptedSocketTracker();
        Shape = new SinkShape<AcceptedSocket>(In);
    }

    public Inlet<AcceptedSocket> In { get; } = new("ConnectionHost.in");

    public override SinkShape<AcceptedSocket> Shape { get; }

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

        public override void PreStart() => Pull(_stage.In);

        public override void OnPush()
        {
            var accepted = Grab(_stage.In);
            try
            {
                SubFusingMaterializer.Materialize(_stage._connection, new Attributes(accepted));
            }
            catch (Exception e)
            {
                accepted.Socket.Dispose();
                _stage._notStarted(e);
            }
            finally
            {
                _stage._tracker.Release(accepted.Socket); // its stream owns it now, or it is closed
            }

            Pull(_stage.In);
        }

        // The listener stops feeding this host when it stops; the connections it runs stay until the
        // materializer (the listener's) shuts down.
        public override void OnUpstreamFinish() => CompleteStage();
    }
}
