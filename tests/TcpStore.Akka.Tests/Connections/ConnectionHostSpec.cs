using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Akka.Streams.TestKit;
using Akka.TestKit;
using TcpStore.Akka.Connections;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// <see cref="ConnectionHost"/> fed by a <c>TestSource</c> of accepted sockets. Its blueprint is a closed graph around
/// <see cref="ReportingConnection"/>, a stand-in for a connection's stages: it reads its socket's peer from the
/// <see cref="AcceptedSocket"/> attribute, as the real stages do, reports its start (with the stream actor it runs
/// in) and its stop to a probe, and fails, completes or answers when its stage actor is told to.
/// </summary>
public sealed class ConnectionHostSpec : global::Akka.TestKit.Xunit2.TestKit
{
    /// <summary>A socket from this peer makes the blueprint throw while it is materialized.</summary>
    private static readonly EndPoint Refused = new IPEndPoint(IPAddress.Loopback, 1);

    private readonly IMaterializer _materializer;
    private readonly TestProbe _connections;
    private readonly IGraph<ClosedShape, NotUsed> _blueprint;
    private readonly List<Socket> _sockets = [];

    public ConnectionHostSpec(ITestOutputHelper output) : base("akka.loglevel = WARNING", output: output)
    {
        _materializer = Sys.Materializer();
        _connections = CreateTestProbe("connections");
        // Fused once, as the listener fuses the real blueprint.
        _blueprint = Fusing.Aggressive(
            Source.FromGraph(new ReportingConnection(_connections.Ref)).To(Sink.Ignore<NotUsed>()));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var socket in _sockets) socket.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Runs a host; what it could not start is told to <see cref="_connections"/> as <see cref="NotStarted"/>.</summary>
    private TestPublisher.Probe<AcceptedConnection> RunHost()
    {
        var connections = _connections.Ref;
        return this.SourceProbe<AcceptedConnection>()
            .To(new ConnectionHost(_blueprint, e => connections.Tell(new NotStarted(e))))
            .Run(_materializer);
    }

    /// <summary>An accepted socket (never connected: the stand-in reads only its peer) from port <paramref name="port"/>.</summary>
    private AcceptedSocket Accepted(int port) => Accepted(new IPEndPoint(IPAddress.Loopback, port));

    private AcceptedSocket Accepted(EndPoint peer)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(socket);
        return new AcceptedSocket(socket, peer);
    }

    private async Task<Started> ExpectStartedAsync(AcceptedSocket accepted)
    {
        var started = await _connections.ExpectMsgAsync<Started>();
        Assert.Equal(accepted.Peer, started.Peer);
        Assert.NotEqual(ActorRefs.Nobody, started.StreamActor);
        return started;
    }

    private async Task ExpectStoppedAsync(AcceptedSocket accepted) =>
        Assert.Equal(accepted.Peer, (await _connections.ExpectMsgAsync<Stopped>()).Peer);

    [Fact]
    public async Task Runs_every_accepted_socket_as_a_connection_inside_its_own_stream_actor()
    {
        var sockets = RunHost();
        var accepted = new[] { Accepted(40001), Accepted(40002), Accepted(40003) };

        var inHost = new List<Started>();
        foreach (var socket in accepted)
        {
            await sockets.SendNextAsync(socket);
            inHost.Add(await ExpectStartedAsync(socket));
        }

        // The reference: the same blueprint materialized on its own gets a stream actor of its own.
        var alone = Accepted(40004);
        _materializer.Materialize(_blueprint, new Attributes(alone));
        var aloneStarted = await ExpectStartedAsync(alone);

        var host = Assert.Single(inHost.Select(started => started.StreamActor).Distinct());
        Assert.EndsWith("tcpstore-connection-host", host.Path.Name); // the host stage's own actor
        Assert.NotEqual(host, aloneStarted.StreamActor);
    }

    [Fact]
    public async Task Connections_told_to_its_stage_actor_start_in_the_host_as_those_from_its_inlet()
    {
        // The epoll transport's feed: the host reports its stage actor, the listener tells it the connections.
        var hostRefs = CreateTestProbe("host-refs");
        var sockets = this.SourceProbe<AcceptedConnection>()
            .To(new ConnectionHost(_blueprint, e => _connections.Ref.Tell(new NotStarted(e)), hostRefs.Ref.Tell))
            .Run(_materializer);
        var feed = await hostRefs.ExpectMsgAsync<IActorRef>();

        var (told, pushed) = (Accepted(40001), Accepted(40002));
        feed.Tell(told);
        var toldStarted = await ExpectStartedAsync(told);
        await sockets.SendNextAsync(pushed);
        var pushedStarted = await ExpectStartedAsync(pushed);
        Assert.Equal(toldStarted.StreamActor, pushedStarted.StreamActor);

        var refused = Accepted(Refused);
        feed.Tell(refused);
        Assert.Equal(ReportingConnection.RefusalMessage, (await _connections.ExpectMsgAsync<NotStarted>()).Cause.Message);
        Assert.Throws<ObjectDisposedException>(() => refused.Socket.Available);
    }

    [Fact]
    public async Task A_connection_the_listener_closed_unclaimed_is_never_started_and_a_started_one_is_left_to_its_stream()
    {
        var unclaimed = new UnclaimedConnections();
        var hostRefs = CreateTestProbe("host-refs");
        this.SourceProbe<AcceptedConnection>()
            .To(new ConnectionHost(_blueprint, e => _connections.Ref.Tell(new NotStarted(e)), hostRefs.Ref.Tell, unclaimed))
            .Run(_materializer);
        var feed = await hostRefs.ExpectMsgAsync<IActorRef>();

        // Closed by the listener's stop before the host got to it: skipped, its socket closed once.
        var closedFirst = Accepted(40001);
        unclaimed.Add(closedFirst);
        unclaimed.CloseAll();
        feed.Tell(closedFirst);
        await _connections.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Assert.Throws<ObjectDisposedException>(() => closedFirst.Socket.Available);

        // Claimed and started: the listener's stop leaves it to its stream.
        var started = Accepted(40002);
        unclaimed.Add(started);
        feed.Tell(started);
        await ExpectStartedAsync(started);
        unclaimed.CloseAll();
        _ = started.Socket.Available; // still open
    }

    [Fact]
    public async Task A_blueprint_that_throws_on_materialization_closes_that_socket_reports_it_and_the_host_goes_on()
    {
        var sockets = RunHost();
        var refused = Accepted(Refused);

        await sockets.SendNextAsync(refused);

        var notStarted = await _connections.ExpectMsgAsync<NotStarted>();
        Assert.Equal(ReportingConnection.RefusalMessage, notStarted.Cause.Message);
        Assert.Throws<ObjectDisposedException>(() => refused.Socket.Available);
        var next = Accepted(40001);
        await sockets.SendNextAsync(next);
        await ExpectStartedAsync(next);
    }

    [Fact]
    public async Task A_connection_that_fails_or_completes_stops_alone()
    {
        var sockets = RunHost();
        var (failing, completing, staying) = (Accepted(40001), Accepted(40002), Accepted(40003));
        await sockets.SendNextAsync(failing);
        var failingConnection = (await ExpectStartedAsync(failing)).Connection;
        await sockets.SendNextAsync(completing);
        var completingConnection = (await ExpectStartedAsync(completing)).Connection;
        await sockets.SendNextAsync(staying);
        var stayingConnection = (await ExpectStartedAsync(staying)).Connection;

        failingConnection.Tell(ReportingConnection.FailNow.Instance);
        await ExpectStoppedAsync(failing);
        completingConnection.Tell(ReportingConnection.CompleteNow.Instance);
        await ExpectStoppedAsync(completing);

        // The other connection and the host itself carry on.
        stayingConnection.Tell(ReportingConnection.Ping.Instance, _connections.Ref);
        Assert.Equal(staying.Peer, (await _connections.ExpectMsgAsync<Pong>()).Peer);
        var next = Accepted(40004);
        await sockets.SendNextAsync(next);
        await ExpectStartedAsync(next);
    }

    [Fact]
    public async Task Upstream_completion_completes_the_host_and_leaves_its_connections_to_end_on_their_own()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var sockets = RunHost();
            var accepted = Accepted(40001);
            await sockets.SendNextAsync(accepted);
            var (_, connection, host) = await ExpectStartedAsync(accepted);
            Watch(host);

            await sockets.SendCompleteAsync();

            // The connection outlives the host stage; the stream actor stops with the last of them. Had the host
            // not completed, the actor would go on waiting for sockets.
            connection.Tell(ReportingConnection.Ping.Instance, _connections.Ref);
            await _connections.ExpectMsgAsync<Pong>();
            connection.Tell(ReportingConnection.CompleteNow.Instance);
            await ExpectStoppedAsync(accepted);
            await ExpectTerminatedAsync(host);
        }, _materializer);
    }

    /// <param name="Connection">The connection's stage actor.</param>
    /// <param name="StreamActor">The actor whose interpreter runs the connection.</param>
    private sealed record Started(EndPoint Peer, IActorRef Connection, IActorRef StreamActor);

    private sealed record Stopped(EndPoint Peer);

    private sealed record Pong(EndPoint Peer);

    private sealed record NotStarted(Exception Cause);

    /// <summary>
    /// A stand-in for a connection's stages: it emits nothing, reports <see cref="Started"/> (with its stage actor)
    /// and <see cref="Stopped"/> to the probe, and fails, completes or answers <see cref="Pong"/> when told. Its
    /// logic cannot be created for a socket from <see cref="Refused"/>, as the real stages cannot without their
    /// attribute.
    /// </summary>
    private sealed class ReportingConnection : GraphStage<SourceShape<NotUsed>>
    {
        public const string RefusalMessage = "this blueprint refuses the socket";

        private readonly IActorRef _probe;

        public ReportingConnection(IActorRef probe)
        {
            _probe = probe;
            Shape = new SourceShape<NotUsed>(Out);
        }

        public sealed record FailNow
        {
            public static readonly FailNow Instance = new();
        }

        public sealed record CompleteNow
        {
            public static readonly CompleteNow Instance = new();
        }

        public sealed record Ping
        {
            public static readonly Ping Instance = new();
        }

        public Outlet<NotUsed> Out { get; } = new("ReportingConnection.out");

        public override SourceShape<NotUsed> Shape { get; }

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes)
        {
            var peer = AcceptedSocket.Of(inheritedAttributes).Peer;
            return peer.Equals(Refused) ? throw new InvalidOperationException(RefusalMessage) : new Logic(this, peer);
        }

        private sealed class Logic : OutGraphStageLogic
        {
            private readonly ReportingConnection _stage;
            private readonly EndPoint _peer;

            public Logic(ReportingConnection stage, EndPoint peer) : base(stage.Shape)
            {
                _stage = stage;
                _peer = peer;
                SetHandler(stage.Out, this);
            }

            // A logic starts while the actor that runs its interpreter processes a message: that actor is "self" now.
            public override void PreStart() =>
                _stage._probe.Tell(new Started(_peer, GetStageActor(OnMessage).Ref,
                    ActorCell.GetCurrentSelfOrNoSender() ?? ActorRefs.Nobody));

            public override void PostStop() => _stage._probe.Tell(new Stopped(_peer));

            public override void OnPull()
            {
                // A connection's traffic is not what the host is about: nothing is emitted.
            }

            private void OnMessage((IActorRef Sender, object Message) message)
            {
                switch (message.Message)
                {
                    case FailNow:
                        FailStage(new InvalidOperationException("this connection fails"));
                        break;
                    case CompleteNow:
                        CompleteStage();
                        break;
                    case Ping:
                        message.Sender.Tell(new Pong(_peer));
                        break;
                }
            }
        }
    }
}
