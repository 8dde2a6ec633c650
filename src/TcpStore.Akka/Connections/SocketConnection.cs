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
/// connection's life, and buffers rented from <see cref="ArrayPool{T}.Shared"/> only while bytes are moving (an idle
/// connection holds none).
/// </summary>
/// <remarks>
/// A chunk pushed downstream wraps the stage's receive buffer without copying and is valid until the next pull: the
/// <c>QueryDecoder</c> parses each chunk before it pulls again and copies what it keeps. The peer closing (FIN),
/// resetting, or any socket error ends the stage; so does our side completing, once the bytes being sent are out
/// (cancelling the reading side alone does not cut them off). The socket is closed when the stage stops.
/// </remarks>
internal sealed class SocketConnection : GraphStage<FlowShape<ByteString, ByteString>>
{
    private readonly ILoggingAdapter _log;
    private readonly int _receiveBufferBytes;

    // The log is the listener's, shared by its connections: a stage's own Log would build a logger (and format its
    // interpreter actor's path) for every connection.
    public SocketConnection(ILoggingAdapter log, int receiveBufferBytes)
    {
        _log = log;
        _receiveBufferBytes = receiveBufferBytes;
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
        // Both buffers are rented from the shared pool only while bytes are moving, so that an idle connection holds
        // neither (idle-connection memory is a performance target): the receive buffer between a read and the read
        // that drains the socket, the send buffer while a reply is going out.
        private byte[]? _receiveBuffer;
        private bool _receiveDrained;
        private bool _receivePending;
        private bool _awaitingData;
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
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        protected override object LogSource => "SocketConnection";

        public override void PreStart() => Pull(_stage.In);

        // Reading: one receive per pull. When the last read drained the socket (it did not fill the buffer), the buffer
        // goes back to the pool and a zero-byte receive waits for the next bytes: it completes when data (or FIN) is
        // there, without holding a buffer, and only then is one rented for the read proper. A read that filled the
        // buffer is followed by another read at once, so a busy or pipelining peer pays no extra call.
        public void OnPull()
        {
            if (_receiveDrained)
            {
                _receiveDrained = false;
                ReturnReceiveBuffer();
            }

            if (_receiveBuffer is null)
            {
                _awaitingData = true;
                _receiveArgs.SetBuffer(Array.Empty<byte>(), 0, 0);
            }
            else
            {
                _awaitingData = false;
                _receiveArgs.SetBuffer(_receiveBuffer, 0, _stage._receiveBufferBytes);
            }

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

            if (_awaitingData)
            {
                // Bytes are readable (or the peer closed, which the read now sees as 0 bytes).
                _receiveBuffer = ArrayPool<byte>.Shared.Rent(_stage._receiveBufferBytes);
                OnPull();
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

            // Downstream is done with the chunk when it pulls again (see remarks): a drained buffer goes back then.
            _receiveDrained = received < _stage._receiveBufferBytes;
            Push(_stage.Out, ByteString.FromBytes(_receiveBuffer!, 0, received));
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
            // A buffer an operation may still be using (pending when the stage stopped) is left to the GC, never
            // handed to another connection.
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
