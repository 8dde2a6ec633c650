using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Protocol;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// One accepted socket. Runs the connection's stream (decoder in, <see cref="OutboundBuffer"/> out), forwards each
/// decoded batch to the <see cref="StoreActor"/> with a tell, writes each batch's replies in request order as one
/// chunk, and, whatever ends the connection, tells the store to drop its waiters.
/// </summary>
/// <remarks>
/// A deferred WAIT's STOP_WAITING is the one reply that does not keep request order, exactly as in both PyTorch
/// servers: requests after the WAIT are answered at once and STOP_WAITING follows whenever the keys arrive. Tools
/// rely on it (a WAIT followed by a PING whose echo proves the WAIT is registered), and PyTorch's client never sends
/// anything after a WAIT but CANCEL_WAIT, whose WAIT_CANCELED the store orders after any STOP_WAITING already sent.
/// </remarks>
public sealed class ConnectionActor : ReceiveActor
{
    public static Props Props(
        Socket socket, EndPoint peer, IActorRef store, TcpStoreSettings settings, IMaterializer materializer) =>
        global::Akka.Actor.Props.Create(() => new ConnectionActor(socket, peer, store, settings, materializer));

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Socket _socket;
    private readonly IActorRef _store;
    private readonly TcpStoreSettings _settings;
    private readonly IMaterializer _materializer;
    private readonly EndPoint _peer;

    // Replies ready to be written, in order; reused because encoding consumes them synchronously.
    private readonly List<Reply> _ready = [];

    private IOutboundWriter? _outbound;
    private IActorRef _inbound = ActorRefs.Nobody;
    private long _executeSentAt; // Stopwatch timestamp of the batch in flight, for tcpstore.operation.duration

    public ConnectionActor(
        Socket socket, EndPoint peer, IActorRef store, TcpStoreSettings settings, IMaterializer materializer)
    {
        _socket = socket;
        _store = store;
        _settings = settings;
        _materializer = materializer;
        _peer = peer;

        Receive<InboundStarted>(_ =>
        {
            _inbound = Sender;
            _inbound.Tell(InboundAck.Instance);
        });
        Receive<IReadOnlyList<Query>>(queries =>
        {
            // The batch is acknowledged when its replies come back: one batch in flight per connection keeps a
            // flooding client from queueing unbounded work at the store.
            _inbound = Sender;
            _executeSentAt = System.Diagnostics.Stopwatch.GetTimestamp();
            _store.Tell(new StoreProtocol.Execute(Self, queries));
        });
        Receive<StoreProtocol.Executed>(executed =>
        {
            TcpStoreMetrics.BatchCompleted(_executeSentAt);
            foreach (var reply in executed.Replies)
            {
                // A deferred WAIT has nothing to write yet; its STOP_WAITING comes as WaitCompleted.
                if (reply is not Reply.WaitPending) _ready.Add(reply);
            }

            if (!Flush()) return;
            if (executed.Rejection is { } rejection)
            {
                CloseForCause(rejection.Query, rejection.Reason, rejection.Detail);
                return;
            }

            _inbound.Tell(InboundAck.Instance);
        });
        Receive<StoreProtocol.WaitCompleted>(_ =>
        {
            _ready.Add(Reply.StopWaiting.Instance);
            Flush();
        });
        Receive<InboundCompleted>(_ =>
        {
            _log.Debug("Connection from {0} closed by the peer", _peer);
            Context.Stop(Self);
        });
        Receive<InboundFailed>(failed => OnInboundFailed(failed.Cause));
    }

    protected override void PreStart()
    {
        _log.Debug("Connection from {0} accepted", _peer);
        var handler = Flow.FromSinkAndSource(
            QueryDecoder.Create(_settings.WireLimits)
                .To(Sink.ActorRefWithAck<IReadOnlyList<Query>>(
                    Self, InboundStarted.Instance, InboundAck.Instance, InboundCompleted.Instance,
                    ex => new InboundFailed(ex))),
            OutboundBuffer.Create(_settings.MaxBufferedBytesPerConnection),
            Keep.Right);
        _outbound = SocketConnection.Create(_socket, _settings.ReceiveChunkBytes)
            .JoinMaterialized(handler, Keep.Right)
            .Run(_materializer);
    }

    protected override void PostStop()
    {
        // Whatever ended the connection, its waiters go now; and the socket closes once pending replies are out.
        _store.Tell(new StoreProtocol.ConnectionClosed(Self));
        _outbound?.Complete();
    }

    /// <summary>Writes the ready replies as one chunk. False when the connection had to be closed instead.</summary>
    private bool Flush()
    {
        long bytes = 0;
        foreach (var reply in _ready) bytes += ReplyEncoder.GetEncodedLength(reply);
        if (bytes > _settings.MaxBufferedBytesPerConnection)
        {
            _ready.Clear();
            CloseForCause(null, "max-buffered-bytes-per-connection",
                $"{bytes} reply bytes pending exceed the limit of {_settings.MaxBufferedBytesPerConnection}");
            return false;
        }

        if (_ready.Count == 0) return true;
        var encoded = ReplyEncoder.Encode(_ready);
        _ready.Clear();
        _outbound?.Write(encoded);
        return true;
    }

    private void OnInboundFailed(Exception cause)
    {
        switch (cause)
        {
            case Protocol.ProtocolViolationException violation:
                CloseForCause(violation.Query, ViolationName(violation.Reason), violation.Detail);
                break;
            case OutboundBufferOverflowException overflow:
                CloseForCause(null, "max-buffered-bytes-per-connection", overflow.Message);
                break;
            default:
                _log.Debug("Connection from {0} failed: {1}", _peer, cause.Message);
                TcpStoreMetrics.Error("connection-failed");
                Context.Stop(Self);
                break;
        }
    }

    private void CloseForCause(QueryType? query, string reason, string detail)
    {
        TcpStoreMetrics.ClosedForCause(reason, query?.ToString() ?? "none");
        _log.Warning("Closing connection from {0}: {1} ({2}): {3}", _peer, reason,
            query?.ToString() ?? "no query", detail);
        Context.Stop(Self);
    }

    internal static string ViolationName(ViolationReason reason) => reason switch
    {
        ViolationReason.InvalidValidate => "invalid-validate",
        ViolationReason.RepeatedValidate => "repeated-validate",
        ViolationReason.UnknownQueryType => "unknown-query-type",
        ViolationReason.KeyTooLong => "max-key-bytes",
        ViolationReason.ValueTooLong => "max-value-bytes",
        ViolationReason.TooManyKeys => "max-keys-per-request",
        ViolationReason.TruncatedRequest => "truncated-request",
        _ => reason.ToString(),
    };

    private sealed record InboundStarted
    {
        public static readonly InboundStarted Instance = new();
    }

    private sealed record InboundAck
    {
        public static readonly InboundAck Instance = new();
    }

    private sealed record InboundCompleted
    {
        public static readonly InboundCompleted Instance = new();
    }

    private sealed record InboundFailed(Exception Cause);
}
