using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Binds the store's TCP port, runs the <see cref="SocketAcceptor"/> stream of accepted sockets, and runs one stream
/// per accepted connection: <see cref="SocketConnection"/> → <see cref="QueryDecoder"/> → <see cref="ConnectionStage"/>
/// → back to the socket, materialized from one graph fused when the listener starts, inside one of a few
/// <see cref="ConnectionHost"/> streams (sockets dealt in turn). Enforces <c>max-connections</c> and the allowlist,
/// and knows each connection's peer. Stopping it unbinds the port and closes every connection (the streams of its
/// materializer stop with it).
/// </summary>
public sealed class TcpStoreListener : ReceiveActor
{
    /// <param name="settings">The listener's slice of its store's settings.</param>
    /// <param name="store">The actor its connections send their batches to.</param>
    /// <param name="budget">Connections shared with the other stores' listeners; none when the store is alone.</param>
    /// <param name="metrics">The store's metrics; the default store's when null.</param>
    public static Props Props(ListenerSettings settings, IActorRef store, ConnectionBudget? budget = null, StoreMetrics? metrics = null) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreListener(
            settings, store, budget ?? new ConnectionBudget(int.MaxValue), metrics ?? TcpStoreMetrics.Unmanaged));

    /// <summary>Ask for the <see cref="Binding"/>: where the listener is bound, or why it could not bind.</summary>
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

    /// <summary>Ask for the remote addresses of some connections (the refs the store knows them by):
    /// answered with <see cref="Peers"/>, which leaves out the ones that are no longer open.</summary>
    public sealed record GetPeers(IReadOnlyCollection<IActorRef> Connections);

    /// <summary>The remote address of each asked connection that is still open.</summary>
    public sealed record Peers(IReadOnlyDictionary<IActorRef, EndPoint> Addresses);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _settings;
    private readonly IActorRef _store;
    private readonly ConnectionBudget _budget;
    private readonly StoreMetrics _metrics;
    private readonly IMaterializer _materializer;
    private readonly IGraph<ClosedShape, NotUsed> _connection;
    private readonly List<Channel<AcceptedSocket>> _hosts = [];
    private readonly AcceptedSocketTracker _unowned = new();
    private int _nextHost;
    private Socket? _listenSocket;
    private int _openConnections;
    private readonly Dictionary<IActorRef, EndPoint> _peers = [];

    public TcpStoreListener(ListenerSettings settings, IActorRef store, ConnectionBudget budget, StoreMetrics metrics)
    {
        _settings = settings;
        _store = store;
        _budget = budget;
        _metrics = metrics;
        // One materializer per listener, child of this actor: stopping the listener stops every connection stream.
        _materializer = Context.Materializer();
        // One blueprint for every connection, fused here once: materializing it per socket (with the socket as an
        // AcceptedSocket attribute) skips composing and fusing a graph per connection (docs/PERFORMANCE.md, storms).
        var exchange = QueryDecoder.Create(settings.WireLimits)
            .Via(new ConnectionStage(store, Self, _log, settings.MaxBufferedBytesPerConnection, metrics));
        var socket = Flow.FromGraph(new SocketConnection(_log, settings.ReceiveChunkBytes));
        _connection = Fusing.Aggressive(socket.Join(exchange));
    }

    protected override void PreStart()
    {
        Source<Socket, NotUsed> accepted;
        try
        {
            (_listenSocket, accepted) = Bind(Endpoint(_settings.Host, _settings.Port));
            TcpSocketOptions.Apply(_listenSocket, _settings);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            _log.Error(e, "TcpStore failed to bind {0}:{1}", _settings.Host, _settings.Port);
            _metrics.Error("bind-failed");
            Become(() => Unbound($"{_settings.Host}:{_settings.Port}: {e.Message}"));
            return;
        }

        var self = Self;
        for (var i = 0; i < _settings.ConnectionHosts; i++)
        {
            // Unbounded, but never long: the listener admits at most max-connections sockets. Read by the host and,
            // once the listener stops, by PostStop.
            var sockets = Channel.CreateUnbounded<AcceptedSocket>(new UnboundedChannelOptions { SingleWriter = true });
            ChannelSource.FromReader(sockets.Reader)
                .To(new ConnectionHost(_connection, e => self.Tell(new ConnectionNotStarted(e)), _unowned))
                .Run(_materializer);
            _hosts.Add(sockets);
        }

        accepted.RunWith(
            Sink.ActorRef<Socket>(Self, AcceptorEnded.Instance, ex => new AcceptorFailed(ex)), _materializer);
        _log.Info("TcpStore listening on {0} (backlog {1}; {2})", _listenSocket.LocalEndPoint, _settings.Backlog,
            _settings.DescribeLimits());
        Become(Bound);
    }

    protected override void PostStop()
    {
        _metrics.Closed(_openConnections);
        _budget.Return(_openConnections);
        foreach (var host in _hosts) host.Writer.TryComplete();
        // Sockets accepted but owned by no connection yet (queued for a host, or in a message this actor will never
        // read) would stay open: nothing else knows them.
        _unowned.CloseAll();

        if (_listenSocket is null) return;
        _log.Info("TcpStore listener on {0} stopped", _listenSocket.LocalEndPoint);
        _listenSocket.Dispose(); // unbinds; the acceptor stage completes
    }

    private static IPEndPoint Endpoint(string host, int port) =>
        new(IPAddress.TryParse(host, out var address) ? address : Dns.GetHostAddresses(host)[0], port);

    /// <summary>
    /// Binds <paramref name="endpoint"/>. The IPv6 wildcard (the default) takes IPv4 clients too (dual stack); on a
    /// host without IPv6 it falls back to the IPv4 wildcard, as PyTorch's libuv server does, so the default serves
    /// every client the host can reach. Any other failure, a port in use above all, is reported as it is.
    /// </summary>
    private (Socket Listener, Source<Socket, NotUsed> Accepted) Bind(IPEndPoint endpoint)
    {
        try
        {
            return SocketAcceptor.Bind(endpoint, _settings.Backlog, _unowned);
        }
        catch (SocketException e) when (IPv4FallbackFor(endpoint, e.SocketErrorCode) is { } fallback)
        {
            _log.Info("IPv6 is not available on this host ({0}); listening on IPv4 only ({1})", e.SocketErrorCode, fallback);
            return SocketAcceptor.Bind(fallback, _settings.Backlog, _unowned);
        }
    }

    /// <summary>
    /// Where to listen instead when binding <paramref name="endpoint"/> failed with <paramref name="error"/>: the IPv4
    /// wildcard when the IPv6 wildcard failed because the host has no IPv6 (a kernel without it, or one whose IPv6
    /// cannot take that address); null for anything else, a port in use above all, which must be reported.
    /// </summary>
    internal static IPEndPoint? IPv4FallbackFor(IPEndPoint endpoint, SocketError error) =>
        endpoint.Address.Equals(IPAddress.IPv6Any) && error is SocketError.AddressFamilyNotSupported
            or SocketError.AddressNotAvailable or SocketError.ProtocolNotSupported or SocketError.ProtocolFamilyNotSupported
            ? new IPEndPoint(IPAddress.Any, endpoint.Port)
            : null;

    private void Bound()
    {
        Receive<Socket>(Accept);
        Receive<ConnectionOpened>(opened => _peers[opened.Connection] = opened.Peer);
        Receive<ConnectionNotStarted>(failed =>
        {
            _openConnections--;
            _budget.Return();
            _metrics.Closed();
            _metrics.Error("connection-failed");
            _log.Warning("A connection's stream did not start: {0}", failed.Cause.Message);
        });
        Receive<ConnectionEnded>(ended =>
        {
            _openConnections--;
            _budget.Return();
            _peers.Remove(ended.Connection);
            _metrics.Closed();
        });
        Receive<GetPeers>(get => Sender.Tell(new Peers(PeersOf(get.Connections))));
        Receive<StoreProtocol.StoreLost>(lost =>
        {
            foreach (var connection in _peers.Keys) connection.Tell(lost);
        });
        Receive<GetBinding>(_ => Sender.Tell(new Binding(_listenSocket!.LocalEndPoint, null)));
        Receive<GetConnectionCount>(_ => Sender.Tell(_openConnections));
        Receive<AcceptorEnded>(_ => _log.Info("TcpStore stopped accepting connections"));
        Receive<AcceptorFailed>(failed => _log.Error(failed.Cause, "TcpStore accept stream failed"));
    }

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

    private void Accept(Socket socket)
    {
        var peer = socket.RemoteEndPoint;
        if (peer is IPEndPoint ip && !_settings.IsAllowed(ip.Address))
        {
            Refuse(socket, peer, "not-allowed", "its address is outside tcpstore.allowed-networks");
            return;
        }

        if (_openConnections >= _settings.MaxConnections)
        {
            Refuse(socket, peer, "max-connections", $"max-connections ({_settings.MaxConnections}) reached");
            return;
        }

        if (!_budget.TryTake())
        {
            Refuse(socket, peer, "max-total-connections",
                $"max-total-connections ({_budget.Limit}, all stores together) reached");
            return;
        }

        if (!TcpSocketOptions.InheritedFromListener)
        {
            try
            {
                TcpSocketOptions.Apply(socket, _settings);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The peer is already gone.
                _budget.Return();
                _unowned.Release(socket);
                socket.Dispose();
                _metrics.Error("connection-failed");
                return;
            }
        }

        _openConnections++;
        _metrics.Accepted();
        // Materializing takes far longer than accounting for it, so a host does it, not this actor; the hosts take
        // turns, so a burst of connections that send nothing (a scan, storeload abuse probe 14) is spread over all
        // of them and the next client still starts at once.
        _hosts[_nextHost].Writer.TryWrite(new AcceptedSocket(socket, peer!));
        _nextHost = (_nextHost + 1) % _hosts.Count;
    }

    /// <summary>Closes a connection at once, without reading a byte from it; the open ones are untouched.</summary>
    private void Refuse(Socket socket, EndPoint? peer, string reason, string detail)
    {
        _unowned.Release(socket);
        _log.Warning("Refusing connection from {0}: {1}", peer, detail);
        _metrics.Refused(reason);
        socket.Dispose();
    }

    /// <summary>A connection's stream started; <paramref name="Connection"/> is its identity at the store.</summary>
    internal sealed record ConnectionOpened(IActorRef Connection, EndPoint Peer);

    /// <summary>A connection's stream stopped, for whatever reason.</summary>
    internal sealed record ConnectionEnded(IActorRef Connection);

    /// <summary>A host could not start a connection's stream (the socket is closed).</summary>
    private sealed record ConnectionNotStarted(Exception Cause);

    private sealed record AcceptorEnded
    {
        public static readonly AcceptorEnded Instance = new();
    }

    private sealed record AcceptorFailed(Exception Cause);
}
