using System.Net;
using Akka.Actor;
using Akka.Event;
using ByteString = Akka.IO.ByteString;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Binds the store's TCP port with an Akka.Streams binding and turns every accepted connection into a child
/// <see cref="ConnectionActor"/>. Enforces <c>max-connections</c>. Stopping it unbinds the port and closes every
/// connection (its children and the streams of its materializer stop with it).
/// </summary>
public sealed class TcpStoreListener : ReceiveActor, IWithStash
{
    public static Props Props(TcpStoreSettings settings, IActorRef store) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreListener(settings, store));

    /// <summary>Ask for the <see cref="Binding"/>; answered once the bind has succeeded or failed.</summary>
    public sealed record GetBinding
    {
        public static readonly GetBinding Instance = new();
    }

    /// <summary>Where the listener is bound (<paramref name="LocalAddress"/>), or why it is not (<paramref name="Failure"/>).</summary>
    public sealed record Binding(EndPoint? LocalAddress, string? Failure)
    {
        public bool IsBound => LocalAddress is not null;
    }

    /// <summary>Ask for the number of open connections; answered with an <see cref="int"/>.</summary>
    public sealed record GetConnectionCount
    {
        public static readonly GetConnectionCount Instance = new();
    }

    /// <summary>Ask for the remote addresses of some connections (ConnectionActor refs, as the store knows them):
    /// answered with <see cref="Peers"/>, which leaves out the ones that are no longer open.</summary>
    public sealed record GetPeers(IReadOnlyCollection<IActorRef> Connections);

    /// <summary>The remote address of each asked connection that is still open.</summary>
    public sealed record Peers(IReadOnlyDictionary<IActorRef, EndPoint> Addresses);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TcpStoreSettings _settings;
    private readonly IActorRef _store;
    private readonly IMaterializer _materializer;
    private Tcp.ServerBinding? _serverBinding;
    private int _openConnections;
    private readonly Dictionary<IActorRef, EndPoint> _peers = [];

    public TcpStoreListener(TcpStoreSettings settings, IActorRef store)
    {
        _settings = settings;
        _store = store;
        // One materializer per listener, child of this actor: stopping the listener stops every connection stream.
        _materializer = Context.Materializer();
        AwaitingBind();
    }

    public IStash Stash { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() =>
        // A connection actor that throws is stopped: its PostStop drops its waiters and closes its socket.
        new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        var self = Self;
        Context.System.TcpStream()
            .Bind(_settings.Host, _settings.Port, _settings.Backlog, TcpSocketOptions.For(_settings),
                halfClose: false)
            .To(Sink.ActorRef<Tcp.IncomingConnection>(self, ConnectionSourceEnded.Instance,
                ex => new ConnectionSourceFailed(ex)))
            .Run(_materializer)
            .PipeTo(self, success: binding => new BindSucceeded(binding), failure: ex => new BindFailed(ex));
    }

    protected override void PostStop()
    {
        _serverBinding?.Unbind();
        TcpStoreMetrics.Closed(_openConnections);
        _log.Info("TcpStore listener on {0} stopped", _serverBinding?.LocalAddress);
    }

    private void AwaitingBind()
    {
        Receive<BindSucceeded>(bound =>
        {
            _serverBinding = bound.Binding;
            _log.Info("TcpStore listening on {0} (backlog {1}; {2})", bound.Binding.LocalAddress, _settings.Backlog,
                _settings.DescribeLimits());
            Become(Bound);
            Stash.UnstashAll();
        });
        Receive<BindFailed>(failed =>
        {
            _log.Error(failed.Cause, "TcpStore failed to bind {0}:{1}", _settings.Host, _settings.Port);
            TcpStoreMetrics.Error("bind-failed");
            Become(() => Unbound(failed.Cause.Message));
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Bound()
    {
        Receive<Tcp.IncomingConnection>(Accept);
        Receive<Terminated>(terminated =>
        {
            _openConnections--;
            _peers.Remove(terminated.ActorRef);
            TcpStoreMetrics.Closed();
        });
        Receive<GetPeers>(get => Sender.Tell(new Peers(PeersOf(get.Connections))));
        Receive<GetBinding>(_ => Sender.Tell(new Binding(BoundAddress, null)));
        Receive<GetConnectionCount>(_ => Sender.Tell(_openConnections));
        Receive<ConnectionSourceEnded>(_ => _log.Warning("TcpStore accept stream ended"));
        Receive<ConnectionSourceFailed>(failed => _log.Error(failed.Cause, "TcpStore accept stream failed"));
    }

    private EndPoint? BoundAddress => _serverBinding?.LocalAddress;

    private void Unbound(string failure)
    {
        Receive<GetBinding>(_ => Sender.Tell(new Binding(null, failure)));
        Receive<GetConnectionCount>(_ => Sender.Tell(0));
        Receive<GetPeers>(_ => Sender.Tell(new Peers(new Dictionary<IActorRef, EndPoint>())));
    }

    private Dictionary<IActorRef, EndPoint> PeersOf(IReadOnlyCollection<IActorRef> connections)
    {
        var peers = new Dictionary<IActorRef, EndPoint>(connections.Count);
        foreach (var connection in connections)
        {
            if (_peers.TryGetValue(connection, out var peer)) peers[connection] = peer;
        }
        return peers;
    }

    private void Accept(Tcp.IncomingConnection connection)
    {
        if (_openConnections >= _settings.MaxConnections)
        {
            _log.Warning("Refusing connection from {0}: max-connections ({1}) reached", connection.RemoteAddress,
                _settings.MaxConnections);
            TcpStoreMetrics.Refused("max-connections");
            connection.Flow.RunWith(Source.Empty<ByteString>(), Sink.Ignore<ByteString>(), _materializer);
            return;
        }

        _openConnections++;
        TcpStoreMetrics.Accepted();
        var child = Context.ActorOf(ConnectionActor.Props(connection, _store, _settings, _materializer));
        _peers[child] = connection.RemoteAddress;
        Context.Watch(child);
    }

    private sealed record BindSucceeded(Tcp.ServerBinding Binding);

    private sealed record BindFailed(Exception Cause);

    private sealed record ConnectionSourceEnded
    {
        public static readonly ConnectionSourceEnded Instance = new();
    }

    private sealed record ConnectionSourceFailed(Exception Cause);
}
