using System.Buffers;
using System.Net;
using System.Runtime.InteropServices;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TcpStore.Akka.EventLoops;
using static TcpStore.Akka.EventLoops.LinuxNative;

namespace TcpStore.Akka.Connections;

/// <summary>
/// An accepted socket descriptor (the <see cref="AcceptedDescriptor"/> it is materialized with) as an Akka.Streams
/// flow, for the epoll transport: the stage runs on an <see cref="EventLoop"/> (its connection host is placed on the
/// loop's dispatcher) and registers the descriptor with that loop, edge-triggered. Bytes the peer sends come out of
/// its outlet, bytes written to its inlet go to the peer. The same contract as <see cref="SocketConnection"/> for
/// the stages around it.
/// </summary>
/// <remarks>
/// <para>
/// Reading: one <c>recv</c> per pull when the loop has reported the socket readable since the last read that
/// drained it; otherwise the pull waits, and the loop's readiness report re-enters the stage (one async callback:
/// a message to the host actor, which is on the same thread). A read that fills its buffer leaves the socket marked
/// readable, so the next pull reads at once without waiting for another report.
/// </para>
/// <para>
/// Writing: bytes pushed in are appended to the connection's outgoing buffer and the stage pulls again at once; the
/// buffer is sent by the loop at the end of its iteration (<see cref="IDeferredFlush"/>), so every reply the loop
/// produced for this connection in one turn — a batch's replies, STOP_WAITINGs — leaves in one <c>send</c>. When
/// the kernel takes only part of it, the stage stops pulling (its upstream coalesces, up to
/// <c>max-buffered-bytes-per-connection</c>) and asks the loop for <c>EPOLLOUT</c>; the rest goes when it comes.
/// </para>
/// <para>
/// The socket's state (buffers, flags) is touched by the stage and by the loop's readiness and flush calls, all on
/// the loop's one thread: no locking. Only what changes the stream (a read that was waited for, a drained or failed
/// write) goes through the async callback.
/// </para>
/// </remarks>
internal sealed class EpollConnection : GraphStage<FlowShape<ByteString, ByteString>>
{
    private readonly ILoggingAdapter _log;
    private readonly int _receiveBufferBytes;
    private readonly int _waitingReadBytes;

    // The log is the listener's, shared by its connections (see SocketConnection).
    public EpollConnection(ILoggingAdapter log, int receiveBufferBytes)
    {
        _log = log;
        _receiveBufferBytes = receiveBufferBytes;
        _waitingReadBytes = Math.Min(SocketConnection.WaitingReadBytes, receiveBufferBytes);
        Shape = new FlowShape<ByteString, ByteString>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("EpollConnection.in");

    public Outlet<ByteString> Out { get; } = new("EpollConnection.out");

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("tcpstore-epoll-socket");

    /// <summary>A logic for the descriptor of the <see cref="AcceptedDescriptor"/> being materialized; it owns it.</summary>
    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, AcceptedDescriptor.Of(inheritedAttributes));

    private sealed unsafe class Logic : GraphStageLogic, IInHandler, IOutHandler, IReadinessHandler, IDeferredFlush
    {
        private const uint ReadEvents = EpollIn | EpollRdHup | EpollEt;

        // What the loop tells the stage through its async callback (boxed once, not per event).
        private static readonly object Readable = new();
        private static readonly object Drained = new();
        private static readonly object SendFailed = new();

        private readonly EpollConnection _stage;
        private readonly int _fd;
        private readonly EndPoint _peer;
        private readonly byte[] _waitingReadBuffer;
        private EventLoop? _loop;
        private Action<object>? _onLoopEvent;
        private int _registration = -1;

        // Reading: _readable since the loop reported readiness and no read drained the socket; _readWanted while a
        // pull waits for that report; _hungUp once the loop reported the peer's FIN or an error, which a short read
        // must not hide (edge-triggered: that report is not repeated).
        private byte[]? _receiveBuffer;
        private bool _lastReadFilled;
        private bool _readable;
        private bool _readWanted;
        private bool _hungUp;

        // Writing: what waits to be sent is either _held, the one compact chunk pushed since the last send (sent from
        // its own array: the common case, one reply or one batch per turn, costs no copy), or the bytes
        // _outStart.._outEnd of _out (a pooled buffer, given back when empty) once there were more chunks or a send
        // left a rest.
        private ByteString? _held;
        private byte[]? _out;
        private int _outStart;
        private int _outEnd;

        // A large value (ReplyChunks) is never copied: it waits in _large, after whatever is in _out, and is sent from
        // the store's own array; the stage pulls again only once it is out (a Drained report from the loop).
        private ByteString? _large;
        private int _largeSent;
        private bool _flushScheduled;
        private bool _writeBlocked;
        private bool _outputFinished;
        private int _sendErrno;
        private bool _stopped;

        // Port counts, not the shape (see SocketConnection).
        public Logic(EpollConnection stage, AcceptedDescriptor accepted) : base(inCount: 1, outCount: 1)
        {
            _stage = stage;
            _fd = accepted.Fd;
            _peer = accepted.Peer;
            _waitingReadBuffer = new byte[stage._waitingReadBytes];
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        protected override object LogSource => "EpollConnection";

        public override void PreStart()
        {
            _loop = EventLoop.Current ?? throw new InvalidOperationException(
                "An epoll connection must run on an event loop (its host on a tcpstore.tcp.event-loops dispatcher).");
            _onLoopEvent = GetAsyncCallback<object>(OnLoopEvent);
            // Edge-triggered: data already queued is reported at once.
            _registration = _loop.Register(_fd, ReadEvents, this);
            Pull(_stage.In);
        }

        // ---------------------------------------------------------------------------------------- reading

        public void OnPull()
        {
            if (_readable) Receive();
            else _readWanted = true;
        }

        private void Receive()
        {
            byte[] buffer;
            if (_lastReadFilled)
            {
                buffer = _receiveBuffer ??= ArrayPool<byte>.Shared.Rent(_stage._receiveBufferBytes);
            }
            else
            {
                // Downstream is done with the last chunk (it pulled): a pooled buffer goes back before the wait.
                ReturnReceiveBuffer();
                buffer = _waitingReadBuffer;
            }

            var length = buffer == _waitingReadBuffer ? buffer.Length : _stage._receiveBufferBytes;
            nint received;
            do
            {
                fixed (byte* p = buffer) received = Recv(_fd, p, length, 0);
            } while (received < 0 && Marshal.GetLastPInvokeError() == Eintr);

            if (received > 0)
            {
                _lastReadFilled = received == length;
                _readable = _lastReadFilled || _hungUp;
                // The chunk wraps the buffer; downstream is done with it when it pulls again.
                Push(_stage.Out, ByteString.FromBytes(buffer, 0, (int)received));
                return;
            }

            if (received == 0)
            {
                // The peer closed: like PyTorch's servers (and SocketConnection), that ends the connection.
                _stage._log.Debug("Connection from {0} closed by the peer", _peer);
                CompleteStage();
                return;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eagain)
            {
                _lastReadFilled = false;
                _readable = false;
                _readWanted = true;
                return;
            }

            FailStage(LinuxNative.SocketError(errno));
        }

        public void OnDownstreamFinish(Exception cause)
        {
            // Nothing more is read; the socket stays until our last bytes are out (upstream finishes after them).
            _readWanted = false;
            if (_outputFinished && NothingToSend) CompleteStage();
        }

        private bool NothingToSend => _held is null && _outStart == _outEnd && _large is null;

        // ---------------------------------------------------------------------------------------- writing

        public void OnPush()
        {
            var bytes = Grab(_stage.In);
            if (bytes.Count >= ReplyChunks.LargeValueBytes && bytes.IsCompact)
            {
                if (_held is not null)
                {
                    Append(_held.ToReadOnlySpan());
                    _held = null;
                }

                _large = bytes;
                _largeSent = 0;
                ScheduleFlush(); // and no pull until it is out
                return;
            }

            if (_held is null && _outStart == _outEnd && bytes.IsCompact) _held = bytes;
            else
            {
                if (_held is not null)
                {
                    Append(_held.ToReadOnlySpan());
                    _held = null;
                }

                Append(bytes.ToReadOnlySpan());
            }
            if (!_writeBlocked)
            {
                ScheduleFlush();
                Pull(_stage.In);
            }
        }

        private void ScheduleFlush()
        {
            if (_flushScheduled || _writeBlocked) return;
            _flushScheduled = true;
            _loop!.ScheduleFlush(this);
        }

        private void Append(ReadOnlySpan<byte> bytes)
        {
            var count = bytes.Length;
            if (_out is null)
            {
                _out = ArrayPool<byte>.Shared.Rent(Math.Max(count, 512));
            }
            else if (_out.Length - _outEnd < count)
            {
                var pending = _outEnd - _outStart;
                var grown = pending + count <= _out.Length ? _out : ArrayPool<byte>.Shared.Rent(pending + count);
                Buffer.BlockCopy(_out, _outStart, grown, 0, pending);
                if (!ReferenceEquals(grown, _out)) ArrayPool<byte>.Shared.Return(_out);
                _out = grown;
                _outStart = 0;
                _outEnd = pending;
            }

            bytes.CopyTo(_out.AsSpan(_outEnd));
            _outEnd += count;
        }

        /// <summary>The end of the loop's iteration: the bytes appended during it leave in one send.</summary>
        public void Flush()
        {
            _flushScheduled = false;
            if (_stopped || _writeBlocked) return;
            var waitedForLarge = _large is not null;
            switch (SendBuffered())
            {
                case SendResult.Failed:
                    _onLoopEvent!(SendFailed);
                    break;
                case SendResult.Sent when waitedForLarge:
                    _onLoopEvent!(Drained); // the stage stopped pulling for the large value
                    break;
            }
        }

        private enum SendResult
        {
            Sent,
            Blocked,
            Failed,
        }

        /// <summary>Sends what is waiting until it is out or the kernel takes no more.</summary>
        private SendResult SendBuffered()
        {
            if (_held is not null && !SendHeld(out var failed)) return failed ? SendResult.Failed : Blocked();
            while (_outStart < _outEnd)
            {
                nint sent;
                fixed (byte* p = _out) sent = Send(_fd, p + _outStart, _outEnd - _outStart, MsgNoSignal);
                if (sent >= 0)
                {
                    _outStart += (int)sent;
                    continue;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr) continue;
                if (errno == Eagain) return Blocked();
                return Failed(errno);
            }

            ReturnOutBuffer();
            while (_large is not null)
            {
                var rest = _large.ToReadOnlySpan()[_largeSent..];
                nint sent;
                fixed (byte* p = rest) sent = Send(_fd, p, rest.Length, MsgNoSignal);
                if (sent >= 0)
                {
                    _largeSent += (int)sent;
                    if (sent == rest.Length) _large = null;
                    continue;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr) continue;
                if (errno == Eagain) return Blocked();
                return Failed(errno);
            }

            if (!_writeBlocked) return SendResult.Sent;
            _writeBlocked = false;
            _loop!.Modify(_registration, _fd, ReadEvents);
            return SendResult.Sent;
        }

        /// <summary>
        /// Sends the held chunk from its own array. False when it did not all go: the rest is copied to the pooled
        /// buffer (the chunk's array is not ours to keep), or the send failed (<paramref name="failed"/>).
        /// </summary>
        private bool SendHeld(out bool failed)
        {
            var bytes = _held!.ToReadOnlySpan();
            _held = null;
            failed = false;
            nint sent;
            do
            {
                fixed (byte* p = bytes) sent = Send(_fd, p, bytes.Length, MsgNoSignal);
            } while (sent < 0 && Marshal.GetLastPInvokeError() == Eintr);

            if (sent == bytes.Length) return true;
            if (sent < 0 && Marshal.GetLastPInvokeError() is var errno and not Eagain)
            {
                Failed(errno);
                failed = true;
                return false;
            }

            Append(bytes[(int)Math.Max(sent, 0)..]);
            return false;
        }

        private SendResult Blocked()
        {
            if (!_writeBlocked)
            {
                _writeBlocked = true;
                _loop!.Modify(_registration, _fd, ReadEvents | EpollOut);
            }

            return SendResult.Blocked;
        }

        private SendResult Failed(int errno)
        {
            _sendErrno = errno;
            _held = null;
            _large = null;
            ReturnOutBuffer();
            return SendResult.Failed;
        }

        public void OnUpstreamFinish()
        {
            // Our side is done: close once the bytes being sent are out (a flush this iteration may still be
            // scheduled; it finds the stage stopped, or nothing to send).
            _outputFinished = true;
            if (_writeBlocked) return; // the readiness that unblocks the write completes the stage
            switch (SendBuffered())
            {
                case SendResult.Sent:
                    CompleteStage();
                    break;
                case SendResult.Failed:
                    FailStage(LinuxNative.SocketError(_sendErrno));
                    break;
            }
        }

        public void OnUpstreamFailure(Exception e) => FailStage(e);

        // ---------------------------------------------------------------------------------------- the loop

        /// <summary>The loop's report for the descriptor (on the loop's thread, outside the stage).</summary>
        public void OnReadiness(uint events)
        {
            if (_stopped) return;
            if ((events & (EpollRdHup | EpollHup | EpollErr)) != 0) _hungUp = true;
            if ((events & (EpollIn | EpollRdHup | EpollHup | EpollErr)) != 0)
            {
                _readable = true;
                if (_readWanted)
                {
                    _readWanted = false;
                    _onLoopEvent!(Readable);
                }
            }

            if ((events & (EpollOut | EpollHup | EpollErr)) != 0 && _writeBlocked)
            {
                // The kernel takes bytes again: what waited goes now, and the stage may pull (or complete).
                switch (SendBuffered())
                {
                    case SendResult.Sent:
                        _onLoopEvent!(Drained);
                        break;
                    case SendResult.Failed:
                        _onLoopEvent!(SendFailed);
                        break;
                }
            }
        }

        /// <summary>The loop's news, inside the stage.</summary>
        private void OnLoopEvent(object loopEvent)
        {
            if (ReferenceEquals(loopEvent, Readable))
            {
                if (IsAvailable(_stage.Out)) Receive();
            }
            else if (ReferenceEquals(loopEvent, Drained))
            {
                if (_outputFinished)
                {
                    if (NothingToSend) CompleteStage();
                }
                else if (!IsClosed(_stage.In) && !HasBeenPulled(_stage.In))
                {
                    Pull(_stage.In);
                }
            }
            else if (ReferenceEquals(loopEvent, SendFailed))
            {
                FailStage(LinuxNative.SocketError(_sendErrno));
            }
        }

        public override void PostStop()
        {
            _stopped = true;
            if (_registration >= 0) _loop!.Unregister(_registration, _fd, fdClosing: true);
            LinuxNative.Close(_fd);
            ReturnReceiveBuffer();
            ReturnOutBuffer();
            _held = null;
            _large = null;
        }

        private void ReturnReceiveBuffer()
        {
            if (_receiveBuffer is null) return;
            ArrayPool<byte>.Shared.Return(_receiveBuffer);
            _receiveBuffer = null;
        }

        private void ReturnOutBuffer()
        {
            if (_out is null) return;
            ArrayPool<byte>.Shared.Return(_out);
            _out = null;
            _outStart = _outEnd = 0;
        }
    }
}
