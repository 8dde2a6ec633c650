using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Connections;

/// <summary>
/// One connection's exchange with the <see cref="StoreActor"/>: decoded query batches in, reply bytes out. Its stage
/// actor is the connection's actor — the <see cref="IActorRef"/> the store knows it by, replies to, wakes and
/// forgets: it tells the store each batch, receives the replies, encodes each batch's replies into one chunk
/// (coalescing while the socket is busy, up to <c>max-buffered-bytes-per-connection</c>), and, however the
/// connection ends, tells the store to drop its waiters.
/// </summary>
/// <remarks>
/// One batch is in flight to the store at a time: the next is pulled when the replies of the last arrive, so a client
/// that floods requests queues nothing unbounded at the store. A deferred WAIT's STOP_WAITING is the one reply that
/// does not keep request order, exactly as in both PyTorch servers (docs/PROTOCOL.md §1.6): requests after the WAIT
/// are answered at once and STOP_WAITING follows when the keys arrive; CANCEL_WAIT's WAIT_CANCELED is ordered after
/// any STOP_WAITING already sent.
/// </remarks>
internal sealed class ConnectionStage : GraphStage<FlowShape<IReadOnlyList<Query>, ByteString>>
{
    private readonly IActorRef _store;
    private readonly IActorRef _listener;
    private readonly ILoggingAdapter _log;
    private readonly int _maxBufferedBytes;
    private readonly StoreMetrics _metrics;

    // The log is the listener's, shared by its connections: a stage's own Log would build a logger (and format its
    // interpreter actor's path) for every connection.
    public ConnectionStage(IActorRef store, IActorRef listener, ILoggingAdapter log, int maxBufferedBytes, StoreMetrics? metrics = null)
    {
        _metrics = metrics ?? TcpStoreMetrics.Unmanaged;
        _store = store;
        _listener = listener;
        _log = log;
        _maxBufferedBytes = maxBufferedBytes;
        Shape = new FlowShape<IReadOnlyList<Query>, ByteString>(In, Out);
    }

    public Inlet<IReadOnlyList<Query>> In { get; } = new("ConnectionStage.in");

    public Outlet<ByteString> Out { get; } = new("ConnectionStage.out");

    public override FlowShape<IReadOnlyList<Query>, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("tcpstore-connection");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, AcceptedConnection.Of(inheritedAttributes).Peer);

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

    private sealed class Logic : GraphStageLogic, IInHandler, IOutHandler
    {
        private readonly ConnectionStage _stage;
        private readonly EndPoint _peer;

        // Replies of the current batch, reused: encoding consumes them synchronously.
        private readonly List<Reply> _ready = [];
        private IActorRef _self = ActorRefs.Nobody;

        // Encoded replies not pushed yet, in order; a large value is a chunk of its own (ReplyChunks).
        private readonly List<ByteString> _pending = [];
        private long _pendingBytes;
        private long _executeSentAt;

        // What the store owes this connection: a batch's replies, a deferred WAIT's STOP_WAITING. Only cluster mode
        // reads them (StoreLost): an owed answer dies with the store node that owed it.
        private bool _batchInFlight;
        private bool _waitDeferred;

        // Port counts, not the shape: the shape constructor formats a log source for each logic, i.e. each connection
        // (the constant LogSource below stands in; this logic logs through the listener's log).
        public Logic(ConnectionStage stage, EndPoint peer) : base(inCount: 1, outCount: 1)
        {
            _stage = stage;
            _peer = peer;
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        protected override object LogSource => "ConnectionStage";

        public override void PreStart()
        {
            _self = GetStageActor(OnMessage).Ref;
            _stage._listener.Tell(new TcpStoreListener.ConnectionOpened(_self, _peer), _self);
            _stage._log.Debug("Connection from {0} accepted", _peer);
            Pull(_stage.In);
        }

        public override void PostStop()
        {
            // Whatever ended the connection, its waiters go now.
            _stage._store.Tell(new StoreProtocol.ConnectionClosed(_self), _self);
            _stage._listener.Tell(new TcpStoreListener.ConnectionEnded(_self), _self);
        }

        public void OnPush()
        {
            _executeSentAt = Stopwatch.GetTimestamp();
            _batchInFlight = true;
            _stage._store.Tell(new StoreProtocol.Execute(_self, Grab(_stage.In)), _self);
        }

        private void OnMessage((IActorRef Sender, object Message) message)
        {
            switch (message.Message)
            {
                case StoreProtocol.Executed executed:
                    _stage._metrics.BatchCompleted(_executeSentAt);
                    _batchInFlight = false;
                    // Indexed, not foreach: the replies are an IReadOnlyList, whose enumerator would be boxed.
                    var replies = executed.Replies;
                    for (var i = 0; i < replies.Count; i++)
                    {
                        var reply = replies[i];
                        switch (reply)
                        {
                            case Reply.WaitPending:
                                // A deferred WAIT has nothing to write yet; its STOP_WAITING comes as WaitCompleted.
                                _waitDeferred = true;
                                continue;
                            case Reply.WaitCanceled:
                                _waitDeferred = false;
                                break;
                        }
                        _ready.Add(reply);
                    }

                    if (!Write()) return;
                    if (executed.Rejection is { } rejection)
                    {
                        CloseForCause(rejection.Query, rejection.Reason, rejection.Detail);
                        return;
                    }

                    if (!IsClosed(_stage.In)) Pull(_stage.In);
                    break;
                case StoreProtocol.WaitCompleted:
                    _waitDeferred = false;
                    _ready.Add(Reply.StopWaiting.Instance);
                    Write();
                    break;
                case StoreProtocol.StoreLost when _batchInFlight || _waitDeferred:
                    CloseForCause(null, "store-lost", _waitDeferred
                        ? "the store node holding this connection's WAIT was lost"
                        : "the store node was lost with this connection's requests in flight");
                    break;
            }
        }

        /// <summary>Encodes the ready replies into the pending bytes. False when that closed the connection.</summary>
        private bool Write()
        {
            if (_ready.Count == 0) return true;
            var bytes = _pendingBytes;
            foreach (var reply in _ready) bytes += ReplyEncoder.GetEncodedLength(reply);
            if (bytes > _stage._maxBufferedBytes)
            {
                // Checked before encoding, so an oversized reply is never built. The bytes already pending are
                // dropped: a peer that does not read would never take them.
                _ready.Clear();
                _stage._metrics.ClosedForCause("max-buffered-bytes-per-connection", "none");
                _stage._log.Warning("Closing connection from {0}: max-buffered-bytes-per-connection: {1} reply " +
                                    "bytes pending exceed the limit of {2}", _peer, bytes, _stage._maxBufferedBytes);
                FailStage(new OutboundBufferOverflowException(_stage._maxBufferedBytes));
                return false;
            }

            // Wrapped without copying: the array is never touched again.
            if (ReplyChunks.HasLargeValue(_ready)) ReplyChunks.Encode(_ready, _pending);
            else _pending.Add(ByteString.FromBytes(ReplyEncoder.Encode(_ready)));
            _pendingBytes = bytes;
            _ready.Clear();
            if (IsAvailable(_stage.Out)) PushPending();
            return true;
        }

        public void OnPull()
        {
            if (_pending.Count > 0) PushPending();
        }

        /// <summary>
        /// Pushes the next chunk: a large value alone, or everything small that waits before the next large one,
        /// coalesced (the socket is busy while they accumulate: they leave in one write).
        /// </summary>
        private void PushPending() => Push(_stage.Out, TakeNextChunk());

        private ByteString TakeNextChunk()
        {
            var bytes = _pending[0];
            var taken = 1;
            if (bytes.Count < ReplyChunks.LargeValueBytes)
            {
                while (taken < _pending.Count && _pending[taken].Count < ReplyChunks.LargeValueBytes)
                    bytes = bytes.Concat(_pending[taken++]);
            }

            _pending.RemoveRange(0, taken);
            _pendingBytes -= bytes.Count;
            return bytes;
        }

        public void OnUpstreamFinish()
        {
            // The decoder ended (the peer closed its side): replies still pending go out first.
            CompleteAfterPending();
        }

        public void OnUpstreamFailure(Exception e)
        {
            if (e is Protocol.ProtocolViolationException violation)
                CloseForCause(violation.Query, ViolationName(violation.Reason), violation.Detail);
            else
            {
                _stage._log.Debug("Connection from {0} failed: {1}", _peer, e.Message);
                _stage._metrics.Error("connection-failed");
                FailStage(e);
            }
        }

        public void OnDownstreamFinish(Exception cause) => CompleteStage();

        private void CloseForCause(QueryType? query, string reason, string detail)
        {
            _stage._metrics.ClosedForCause(reason, query?.ToString() ?? "none");
            _stage._log.Warning("Closing connection from {0}: {1} ({2}): {3}", _peer, reason,
                query?.ToString() ?? "no query", detail);
            CompleteAfterPending();
        }

        private void CompleteAfterPending()
        {
            if (_pending.Count == 0)
            {
                CompleteStage();
                return;
            }

            var chunks = new List<ByteString>();
            while (_pending.Count > 0) chunks.Add(TakeNextChunk());
            EmitMultiple(_stage.Out, chunks, CompleteStage);
        }
    }
}

/// <summary>
/// Raised when a connection would hold more unsent reply bytes than
/// <c>tcpstore.limits.max-buffered-bytes-per-connection</c> allows (typically a peer that does not read).
/// </summary>
public sealed class OutboundBufferOverflowException(int limit)
    : Exception($"max-buffered-bytes-per-connection ({limit} bytes) exceeded: the peer does not read its replies")
{
    public int Limit { get; } = limit;
}
