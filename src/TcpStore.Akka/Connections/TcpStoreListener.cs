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

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TcpStoreSettings _settings;
    private readonly IActorRef _store;
    private readonly IMaterializer _materializer;
    private Tcp.ServerBinding? _serverBinding;
    private int _openConnections;

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
            Become(() => Unbound(failed.Cause.Message));
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Bound()
    {
        Receive<Tcp.IncomingConnection>(Accept);
        Receive<Terminated>(_ => _openConnections--);
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
    }

    private void Accept(Tcp.IncomingConnection connection)
    {
        if (connection.RemoteAddress is IPEndPoint peer && !_settings.IsAllowed(peer.Address))
        {
            Refuse(connection, "not-allowed", "its address is outside tcpstore.allowed-networks");
            return;
        }

        if (_openConnections >= _settings.MaxConnections)
        {
            Refuse(connection, "max-connections", $"max-connections ({_settings.MaxConnections}) reached");
            return;
        }

        _openConnections++;
        TcpStoreMetrics.ConnectionsAccepted.Add(1);
        Context.Watch(Context.ActorOf(ConnectionActor.Props(connection, _store, _settings, _materializer)));
    }

    /// <summary>Closes a connection at once, without reading a byte from it; the open ones are untouched.</summary>
    private void Refuse(Tcp.IncomingConnection connection, string reason, string detail)
    {
        _log.Warning("Refusing connection from {0}: {1}", connection.RemoteAddress, detail);
        TcpStoreMetrics.Refused(reason);
        connection.Flow.RunWith(Source.Empty<ByteString>(), Sink.Cancelled<ByteString>(), _materializer);
    }

    private sealed record BindSucceeded(Tcp.ServerBinding Binding);

    private sealed record BindFailed(Exception Cause);

    private sealed record ConnectionSourceEnded
    {
        public static readonly ConnectionSourceEnded Instance = new();
    }

    private sealed record ConnectionSourceFailed(Exception Cause);
}
