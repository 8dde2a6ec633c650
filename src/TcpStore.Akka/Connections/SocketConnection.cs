using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Akka.IO;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// An accepted socket (the <see cref="AcceptedSocket"/> it is materialized with) as an Akka.Streams flow: bytes
/// written to its inlet go to the peer, bytes the peer sends come out of its outlet. It replaces Akka.Streams' own
/// TCP connection stage (see docs/DESIGN.md): the socket's receive and send complete straight into this stage through
/// async callbacks, with no I/O actor in between, one <see cref="SocketAsyncEventArgs"/> per direction reused for the
/// connection's life, and large buffers rented from <see cref="ArrayPool{T}.Shared"/> only while bytes are moving (an
/// idle connection holds only its small waiting-read buffer).
/// </summary>
/// <remarks>
/// A chunk pushed downstream wraps the stage's receive buffer without copying and is valid until the next pull: the
/// <c>QueryDecoder</c> parses each chunk before it pulls again and copies what it keeps. The peer closing (FIN),
/// resetting, or any socket error ends the stage; so does our side completing, once the bytes being sent are out
/// (cancelling the reading side alone does not cut them off). The socket is closed when the stage stops.
/// </remarks>
internal sealed class SocketConnection : GraphStage<FlowShape<ByteString, ByteString>>
{
    /// <summary>
    /// The size of the buffer each connection owns for a read that waits for its peer: most requests of a
    /// closed-loop client (VALIDATE, PING, GET, ADD, a SET of a small value) fit in one such read.
    /// </summary>
    public const int WaitingReadBytes = 512;

    private readonly ILoggingAdapter _log;
    private readonly int _receiveBufferBytes;
    private readonly int _waitingReadBytes;

    // The log is the listener's, shared by its connections: a stage's own Log would build a logger (and format its
    // interpreter actor's path) for every connection.
    public SocketConnection(ILoggingAdapter log, int receiveBufferBytes)
    {
        _log = log;
        _receiveBufferBytes = receiveBufferBytes;
        _waitingReadBytes = Math.Min(WaitingReadBytes, receiveBufferBytes);
        Shape = new FlowShape<ByteString, ByteString>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("SocketConnection.in");

    public Outlet<ByteString> Out { get; } = new("SocketConnection.out");

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("tcpstore-socket");

    /// <summary>A logic for the socket of the <see cref="AcceptedSocket"/> being materialized; it owns the socket.</summary>
    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, AcceptedSocket.Of(inheritedAttributes));

    private sealed class Logic : GraphStageLogic, IInHandler, IOutHandler
    {
        private readonly SocketConnection _stage;
        private readonly Socket _socket;
        private readonly EndPoint _peer;
        // One async callback for both directions, no per-direction delegates: every object here is paid for by each
        // idle connection.
        private readonly CompletionArgs _receiveArgs;
        private readonly CompletionArgs _sendArgs;
        // A read that waits for the peer uses the connection's own small buffer, so that an idle connection holds
        // no pooled one (idle-connection memory is a performance target); a read that filled its buffer is followed
        // at once by one into a buffer rented from the shared pool, kept until a read drains the socket.
        private readonly byte[] _waitingReadBuffer;
        private byte[]? _receiveBuffer;
        private bool _lastReadFilled;
        private bool _receivePending;
        private byte[]? _sendBuffer;
        private int _sendCount;
        private int _sentBytes;
        private bool _outputFinished;

        // Port counts, not the shape: the shape constructor formats a log source for each logic, i.e. each connection
        // (the constant LogSource below stands in; this logic logs through the listener's log).
        public Logic(SocketConnection stage, AcceptedSocket accepted) : base(inCount: 1, outCount: 1)
        {
            _stage = stage;
            _socket = accepted.Socket;
            _peer = accepted.Peer;
            var onCompleted = GetAsyncCallback<SocketAsyncEventArgs>(OnCompleted);
            _receiveArgs = new CompletionArgs(onCompleted);
            _sendArgs = new CompletionArgs(onCompleted);
            _waitingReadBuffer = new byte[stage._waitingReadBytes];
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        protected override object LogSource => "SocketConnection";

        public override void PreStart() => Pull(_stage.In);

        // Reading: one receive per pull. Its buffer is the small waiting-read one unless the last read filled its
        // buffer (a pipelining peer, a large value): then more bytes are most likely there already and a pooled
        // receive-chunk-bytes buffer takes them. A read costs one system call either way, where a zero-byte read
        // that waits for readability first costs two, and system calls are most of the server's CPU per request.
        public void OnPull()
        {
            byte[] buffer;
            int length;
            if (_lastReadFilled)
            {
                buffer = _receiveBuffer ??= ArrayPool<byte>.Shared.Rent(_stage._receiveBufferBytes);
                length = _stage._receiveBufferBytes;
            }
            else
            {
                // Downstream is done with the last chunk (it pulled): a pooled buffer goes back before the wait.
                ReturnReceiveBuffer();
                buffer = _waitingReadBuffer;
                length = buffer.Length;
            }

            _receiveArgs.SetBuffer(buffer, 0, length);
            _receivePending = true;
            Start(_receiveArgs);
        }

        private void OnReceived(SocketAsyncEventArgs args)
        {
            _receivePending = false;
            if (IsClosed(_stage.Out)) return; // reading was cancelled while this receive was pending
            if (args.SocketError != SocketError.Success)
            {
                FailStage(new SocketException((int)args.SocketError));
                return;
            }

            var received = args.BytesTransferred;
            if (received == 0)
            {
                // The peer closed: like PyTorch's servers (and Akka with halfClose off), that ends the connection.
                _stage._log.Debug("Connection from {0} closed by the peer", _peer);
                CompleteStage();
                return;
            }

            // The chunk wraps the buffer; downstream is done with it when it pulls again (see remarks).
            _lastReadFilled = received == args.Count;
            Push(_stage.Out, ByteString.FromBytes(args.Buffer!, args.Offset, received));
        }

        public void OnDownstreamFinish(Exception cause)
        {
            // Nothing more is read; the socket stays until our last bytes are out (upstream finishes after them).
            if (_outputFinished && _sendCount == 0) CompleteStage();
        }

        // Writing: one send in flight; the next element is pulled when it is fully out.
        public void OnPush()
        {
            // The element may be a rope of several arrays (coalesced replies): flatten it into the send buffer, so
            // that it leaves in one write.
            var bytes = Grab(_stage.In);
            _sendBuffer = ArrayPool<byte>.Shared.Rent(bytes.Count);
            bytes.CopyTo(_sendBuffer, 0, bytes.Count);
            _sendCount = bytes.Count;
            _sentBytes = 0;
            Send();
        }

        private void Send()
        {
            _sendArgs.SetBuffer(_sendBuffer!, _sentBytes, _sendCount - _sentBytes);
            Start(_sendArgs);
        }

        /// <summary>
        /// Starts a socket operation: a synchronous completion is handled here, an asynchronous one comes back through
        /// the stage's async callback.
        /// </summary>
        private void Start(SocketAsyncEventArgs args)
        {
            bool pending;
            try
            {
                pending = ReferenceEquals(args, _receiveArgs) ? _socket.ReceiveAsync(args) : _socket.SendAsync(args);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                FailStage(e);
                return;
            }

            if (!pending) OnCompleted(args);
        }

        private void OnCompleted(SocketAsyncEventArgs args)
        {
            if (ReferenceEquals(args, _receiveArgs)) OnReceived(args);
            else OnSent(args);
        }

        private void OnSent(SocketAsyncEventArgs args)
        {
            if (args.SocketError != SocketError.Success)
            {
                FailStage(new SocketException((int)args.SocketError));
                return;
            }

            _sentBytes += args.BytesTransferred;
            if (_sentBytes < _sendCount)
            {
                Send();
                return;
            }

            _sendCount = 0;
            ReturnSendBuffer();
            if (_outputFinished) CompleteStage();
            else Pull(_stage.In);
        }

        public void OnUpstreamFinish()
        {
            // Our side is done: close once the bytes being sent are out.
            _outputFinished = true;
            if (_sendCount == 0) CompleteStage();
        }

        public void OnUpstreamFailure(Exception e) => FailStage(e);

        public override void PostStop()
        {
            try
            {
                if (_socket.Connected) _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // already reset by the peer
            }

            _socket.Dispose();
            _receiveArgs.Dispose();
            _sendArgs.Dispose();
            // A pooled buffer an operation may still be using (pending when the stage stopped) is left to the GC,
            // never handed to another connection.
            if (!_receivePending) ReturnReceiveBuffer();
            if (_sendCount == 0) ReturnSendBuffer();
        }

        private void ReturnReceiveBuffer()
        {
            if (_receiveBuffer is null) return;
            ArrayPool<byte>.Shared.Return(_receiveBuffer);
            _receiveBuffer = null;
        }

        private void ReturnSendBuffer()
        {
            if (_sendBuffer is null) return;
            ArrayPool<byte>.Shared.Return(_sendBuffer);
            _sendBuffer = null;
        }

        /// <summary>
        /// Hands an asynchronous completion to the stage (an override instead of the <c>Completed</c> event: no handler
        /// delegate per connection). The execution context is not captured: the callback needs none.
        /// </summary>
        private sealed class CompletionArgs(Action<SocketAsyncEventArgs> onCompleted)
            : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
        {
            protected override void OnCompleted(SocketAsyncEventArgs e) => onCompleted(e);
        }
    }
}
