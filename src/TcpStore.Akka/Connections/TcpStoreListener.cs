using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Protocol;
using TcpStore.Akka.EventLoops;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Binds the store's TCP port, accepts, and runs one stream per accepted connection: the socket stage →
/// <see cref="QueryDecoder"/> → <see cref="ConnectionStage"/> → back to the socket, materialized from one graph fused
/// when the listener starts, inside one of a few <see cref="ConnectionHost"/> streams (connections dealt in turn).
/// Enforces <c>max-connections</c> and the allowlist, and knows each connection's peer. Stopping it unbinds the port
/// and closes every connection (the streams of its materializer stop with it).
/// </summary>
/// <remarks>
/// Two transports (<c>tcpstore.tcp.transport</c>). <b>sockets</b>: a <see cref="SocketAcceptor"/> stream accepts on a
/// thread of its own, the socket stage is <see cref="SocketConnection"/>, and the hosts run on the default dispatcher
/// (one per core). <b>epoll</b>: the listener runs on event loop 0, the socket stage is <see cref="EpollConnection"/>,
/// and each loop runs one host on its dispatcher, so a connection's stream runs on the thread that polls its socket.
/// Both accept on a thread of their own (<see cref="SocketAcceptor"/>): a loop busy starting a storm's connections
/// would leave the kernel's accept queue full, and every SYN dropped then costs its client a second.
/// </remarks>
public sealed class TcpStoreListener : ReceiveActor
{
    /// <summary>
    /// The listener's props; with the epoll transport it runs on event loop 0, whose dispatcher must be known by
    /// then (<see cref="EventLoopGroup.For"/>, which the guardian calls first).
    /// </summary>
    /// <param name="settings">The listener's slice of its store's settings.</param>
    /// <param name="store">The actor its connections send their batches to.</param>
    /// <param name="budget">Connections shared with the other stores' listeners; none when the store is alone.</param>
    /// <param name="metrics">The store's metrics; the default store's when null.</param>
    public static Props Props(ListenerSettings settings, IActorRef store, ConnectionBudget? budget = null, StoreMetrics? metrics = null)
    {
        var props = global::Akka.Actor.Props.Create(() => new TcpStoreListener(
            settings, store, budget ?? new ConnectionBudget(int.MaxValue), metrics ?? TcpStoreMetrics.Unmanaged));
        return settings.Transport == TcpTransport.Epoll ? props.WithDispatcher(EventLoopGroup.DispatcherId(0)) : props;
    }

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
    // The sockets transport feeds each host through a channel; the epoll transport tells each loop's host directly.
    private readonly List<Channel<AcceptedConnection>> _hosts = [];
    private IActorRef?[] _loopHosts = [];
    private int _loopHostsStarted;
    private readonly UnclaimedConnections _unclaimed = new();
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
        var socket = settings.Transport == TcpTransport.Epoll
            ? Flow.FromGraph(new EpollConnection(_log, settings.ReceiveChunkBytes))
            : Flow.FromGraph(new SocketConnection(_log, settings.ReceiveChunkBytes));
        _connection = Fusing.Aggressive(socket.Join(exchange));
    }

    protected override void PreStart()
    {
        try
        {
            _listenSocket = Bind(Endpoint(_settings.Host, _settings.Port));
            TcpSocketOptions.Apply(_listenSocket, _settings);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            _log.Error(e, "TcpStore failed to bind {0}:{1}", _settings.Host, _settings.Port);
            _metrics.Error("bind-failed");
            Become(() => Unbound($"{_settings.Host}:{_settings.Port}: {e.Message}"));
            return;
        }

        if (_settings.Transport == TcpTransport.Epoll) StartEventLoopHosts();
        else StartSocketHosts(_listenSocket);
        _log.Info("TcpStore listening on {0} (backlog {1}; {2}; {3})", _listenSocket.LocalEndPoint, _settings.Backlog,
            DescribeTransport(), _settings.DescribeLimits());
        Become(Bound);
    }

    private string DescribeTransport() => _settings.Transport == TcpTransport.Epoll
        ? $"epoll, {_settings.EventLoops.Count} event loop(s)"
        : $"sockets, {_settings.ConnectionHosts} connection host(s)";

    /// <summary>The sockets transport: an accept thread, and hosts on the default dispatcher fed by channels.</summary>
    private void StartSocketHosts(Socket listenSocket)
    {
        var self = Self;
        for (var i = 0; i < _settings.ConnectionHosts; i++)
        {
            // Unbounded, but never long: the listener admits at most max-connections sockets. Read by the host and,
            // once the listener stops, by PostStop.
            var sockets = Channel.CreateUnbounded<AcceptedConnection>(new UnboundedChannelOptions { SingleWriter = true });
            ChannelSource.FromReader(sockets.Reader)
                .To(new ConnectionHost(_connection, e => self.Tell(new ConnectionNotStarted(e)), unclaimed: _unclaimed))
                .Run(_materializer);
            _hosts.Add(sockets);
        }

        StartAccepting(listenSocket);
    }

    /// <summary>Accepts on a thread of its own; each accepted socket comes to this actor as a message.</summary>
    private void StartAccepting(Socket listenSocket) =>
        SocketAcceptor.Accept(listenSocket).RunWith(
            Sink.ActorRef<Socket>(Self, AcceptorEnded.Instance, ex => new AcceptorFailed(ex)), _materializer);

    /// <summary>
    /// The epoll transport: one host per event loop, on that loop's dispatcher, told of its connections by this
    /// actor (on loop 0); accepting starts once every host has reported its stage actor.
    /// </summary>
    private void StartEventLoopHosts()
    {
        var self = Self;
        _loopHosts = new IActorRef?[_settings.EventLoops.Count];
        for (var i = 0; i < _loopHosts.Length; i++)
        {
            var index = i;
            Source.Never<AcceptedConnection>()
                .To(new ConnectionHost(_connection, e => self.Tell(new ConnectionNotStarted(e)),
                    host => self.Tell(new LoopHostStarted(index, host)), _unclaimed))
                .WithAttributes(ActorAttributes.CreateDispatcher(EventLoopGroup.DispatcherId(i)))
                .Run(_materializer);
        }
    }

    protected override void PostStop()
    {
        _metrics.Closed(_openConnections);
        _budget.Return(_openConnections);
        foreach (var host in _hosts) host.Writer.TryComplete();
        // Connections no host claimed (queued in a channel, or in a stage actor's messages, which a stopping stream
        // drops) would stay open: nothing else knows them.
        _unclaimed.CloseAll();

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
    private Socket Bind(IPEndPoint endpoint)
    {
        try
        {
            return SocketAcceptor.Listen(endpoint, _settings.Backlog);
        }
        catch (SocketException e) when (IPv4FallbackFor(endpoint, e.SocketErrorCode) is { } fallback)
        {
            _log.Info("IPv6 is not available on this host ({0}); listening on IPv4 only ({1})", e.SocketErrorCode, fallback);
            return SocketAcceptor.Listen(fallback, _settings.Backlog);
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
        Receive<LoopHostStarted>(started =>
        {
            _loopHosts[started.Index] = started.Host;
            if (++_loopHostsStarted == _loopHosts.Length) StartAccepting(_listenSocket!);
        });
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
        if (!Admit(peer, socket.Dispose)) return;

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
                socket.Dispose();
                _metrics.Error("connection-failed");
                return;
            }
        }

        Opened();
        // Materializing takes far longer than accounting for it, so a host does it, not this actor; the hosts take
        // turns, so a burst of connections that send nothing (a scan, storeload abuse probe 14) is spread over all
        // of them and the next client still starts at once.
        if (_settings.Transport == TcpTransport.Epoll)
        {
            var accepted = new AcceptedDescriptor(Detach(socket), peer!);
            _unclaimed.Add(accepted);
            _loopHosts[_nextHost]!.Tell(accepted, ActorRefs.NoSender);
            _nextHost = (_nextHost + 1) % _loopHosts.Length;
        }
        else
        {
            var accepted = new AcceptedSocket(socket, peer!);
            _unclaimed.Add(accepted);
            _hosts[_nextHost].Writer.TryWrite(accepted);
            _nextHost = (_nextHost + 1) % _hosts.Count;
        }
    }

    /// <summary>
    /// The descriptor of an accepted socket, taken out of it for the epoll transport: non-blocking, and owned by the
    /// caller from now on (the socket object will neither use nor close it).
    /// </summary>
    private static int Detach(Socket socket)
    {
        socket.Blocking = false;
        var fd = (int)socket.Handle;
        socket.SafeHandle.SetHandleAsInvalid();
        GC.SuppressFinalize(socket);
        return fd;
    }

    /// <summary>
    /// Whether a new connection from <paramref name="peer"/> may stay: its address is allowed, and neither
    /// <c>max-connections</c> nor the stores' shared <c>max-total-connections</c> is reached (a place in the latter
    /// is taken). A refused one is closed with <paramref name="close"/>, counted and logged.
    /// </summary>
    private bool Admit(EndPoint? peer, Action close)
    {
        if (peer is IPEndPoint ip && !_settings.IsAllowed(ip.Address))
        {
            Refuse(close, peer, "not-allowed", "its address is outside tcpstore.allowed-networks");
            return false;
        }

        if (_openConnections >= _settings.MaxConnections)
        {
            Refuse(close, peer, "max-connections", $"max-connections ({_settings.MaxConnections}) reached");
            return false;
        }

        if (!_budget.TryTake())
        {
            Refuse(close, peer, "max-total-connections",
                $"max-total-connections ({_budget.Limit}, all stores together) reached");
            return false;
        }

        return true;
    }

    private void Opened()
    {
        _openConnections++;
        _metrics.Accepted();
    }

    /// <summary>Closes a connection at once, without reading a byte from it; the open ones are untouched.</summary>
    private void Refuse(Action close, EndPoint? peer, string reason, string detail)
    {
        _log.Warning("Refusing connection from {0}: {1}", peer, detail);
        _metrics.Refused(reason);
        close();
    }

    /// <summary>A connection's stream started; <paramref name="Connection"/> is its identity at the store.</summary>
    internal sealed record ConnectionOpened(IActorRef Connection, EndPoint Peer);

    /// <summary>A connection's stream stopped, for whatever reason.</summary>
    internal sealed record ConnectionEnded(IActorRef Connection);

    /// <summary>A host could not start a connection's stream (the socket is closed).</summary>
    private sealed record ConnectionNotStarted(Exception Cause);

    /// <summary>Event loop <paramref name="Index"/>'s host runs; <paramref name="Host"/> takes its connections.</summary>
    private sealed record LoopHostStarted(int Index, IActorRef Host);

    private sealed record AcceptorEnded
    {
        public static readonly AcceptorEnded Instance = new();
    }

    private sealed record AcceptorFailed(Exception Cause);
}
