using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Tcp = Akka.Streams.Dsl.Tcp;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Protocol;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// One accepted socket. Runs the connection's stream (decoder in, <see cref="OutboundBuffer"/> out), forwards each
/// decoded batch to the <see cref="StoreActor"/> with a tell, writes the replies in request order — holding back
/// those that follow a WAIT until its STOP_WAITING arrives or it is canceled — and, whatever ends the connection,
/// tells the store to drop its waiters.
/// </summary>
public sealed class ConnectionActor : ReceiveActor
{
    public static Props Props(
        Tcp.IncomingConnection connection, IActorRef store, TcpStoreSettings settings, IMaterializer materializer) =>
        global::Akka.Actor.Props.Create(() => new ConnectionActor(connection, store, settings, materializer));

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Tcp.IncomingConnection _connection;
    private readonly IActorRef _store;
    private readonly TcpStoreSettings _settings;
    private readonly IMaterializer _materializer;
    private readonly EndPoint _peer;

    // Replies ready to be written, in order; reused because encoding consumes them synchronously.
    private readonly List<Reply> _ready = [];

    // Replies that follow an outstanding WAIT, in order, and their encoded size.
    private readonly List<Reply> _held = [];
    private long _heldBytes;
    private bool _waitPending;

    private IOutboundWriter? _outbound;
    private IActorRef _inbound = ActorRefs.Nobody;
    private long _executeSentAt; // Stopwatch timestamp of the batch in flight, for tcpstore.operation.duration

    public ConnectionActor(
        Tcp.IncomingConnection connection, IActorRef store, TcpStoreSettings settings, IMaterializer materializer)
    {
        _connection = connection;
        _store = store;
        _settings = settings;
        _materializer = materializer;
        _peer = connection.RemoteAddress;

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
            foreach (var reply in executed.Replies) Route(reply);
            if (!Flush()) return;
            if (executed.Rejection is { } rejection)
            {
                CloseForCause(rejection.Query, rejection.Reason, rejection.Detail);
                return;
            }

            _inbound.Tell(InboundAck.Instance);
        });
        Receive<StoreProtocol.WaitCompleted>(_ => OnWaitCompleted());
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
        _outbound = _connection.Flow.JoinMaterialized(handler, Keep.Right).Run(_materializer);
    }

    protected override void PostStop()
    {
        // Whatever ended the connection, its waiters go now; and the socket closes once pending replies are out.
        _store.Tell(new StoreProtocol.ConnectionClosed(Self));
        _outbound?.Complete();
    }

    private void Route(Reply reply)
    {
        if (!_waitPending)
        {
            if (reply is Reply.WaitPending) _waitPending = true;
            else _ready.Add(reply);
            return;
        }

        if (reply is Reply.WaitCanceled)
        {
            // The outstanding WAIT ends without STOP_WAITING: what it held back goes out, then WAIT_CANCELED.
            _waitPending = false;
            _ready.AddRange(_held);
            _held.Clear();
            _heldBytes = 0;
            _ready.Add(reply);
            return;
        }

        _held.Add(reply);
        _heldBytes += ReplyEncoder.GetEncodedLength(reply);
    }

    private void OnWaitCompleted()
    {
        if (!_waitPending)
        {
            _log.Warning("Connection from {0}: STOP_WAITING without an outstanding WAIT; ignored", _peer);
            return;
        }

        _waitPending = false;
        _ready.Add(Reply.StopWaiting.Instance);
        var held = _held.ToArray();
        _held.Clear();
        _heldBytes = 0;
        foreach (var reply in held) Route(reply);
        Flush();
    }

    /// <summary>Writes the ready replies as one chunk. False when the connection had to be closed instead.</summary>
    private bool Flush()
    {
        long bytes = _heldBytes;
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
