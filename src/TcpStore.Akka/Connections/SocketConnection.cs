using System.Net.Sockets;
using Akka;
using Akka.IO;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// One accepted socket as an Akka.Streams flow: bytes written to its inlet go to the peer, bytes the peer sends come
/// out of its outlet. It replaces Akka.Streams' own TCP connection stage (see docs/DESIGN.md): the socket's receive
/// and send complete straight into this stage through async callbacks, with no I/O actor in between, one
/// <see cref="SocketAsyncEventArgs"/> per direction reused for the connection's life, and nothing allocated per read.
/// </summary>
/// <remarks>
/// A chunk pushed downstream wraps the stage's receive buffer without copying and is valid until the next pull: the
/// <c>QueryDecoder</c> parses each chunk before it pulls again and copies what it keeps. The peer closing (FIN),
/// resetting, or any socket error ends the stage; so does our side completing, once the bytes being sent are out
/// (cancelling the reading side alone does not cut them off). The socket is closed when the stage stops.
/// </remarks>
internal sealed class SocketConnection : GraphStage<FlowShape<ByteString, ByteString>>
{
    /// <summary>The flow of <paramref name="socket"/>, which it owns from now on.</summary>
    public static Flow<ByteString, ByteString, NotUsed> Create(Socket socket, int receiveBufferBytes) =>
        Flow.FromGraph(new SocketConnection(socket, receiveBufferBytes)).Named("tcpstore-socket");

    private readonly Socket _socket;
    private readonly int _receiveBufferBytes;

    private SocketConnection(Socket socket, int receiveBufferBytes)
    {
        _socket = socket;
        _receiveBufferBytes = receiveBufferBytes;
        Shape = new FlowShape<ByteString, ByteString>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("SocketConnection.in");

    public Outlet<ByteString> Out { get; } = new("SocketConnection.out");

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic, IInHandler, IOutHandler
    {
        private readonly SocketConnection _stage;
        private readonly Socket _socket;
        private readonly byte[] _receiveBuffer;
        private readonly SocketAsyncEventArgs _receiveArgs = new();
        private readonly SocketAsyncEventArgs _sendArgs = new();
        private readonly Action<SocketAsyncEventArgs> _onReceived;
        private readonly Action<SocketAsyncEventArgs> _onSent;
        // Cached delegates: Start() is on the per-request path and must not allocate.
        private readonly Func<SocketAsyncEventArgs, bool> _receive;
        private readonly Func<SocketAsyncEventArgs, bool> _send;
        private readonly Action<SocketAsyncEventArgs> _received;
        private readonly Action<SocketAsyncEventArgs> _sent;
        // Allocated at the first reply, not per connection: idle connections cost only their receive buffer.
        private const int InitialSendBufferBytes = 4096;
        private const int RetainedSendBufferBytes = 1024 * 1024;
        private byte[] _sendBuffer = [];
        private int _sendCount;
        private int _sentBytes;
        private bool _outputFinished;

        public Logic(SocketConnection stage) : base(stage.Shape)
        {
            _stage = stage;
            _socket = stage._socket;
            _receiveBuffer = new byte[stage._receiveBufferBytes];
            _receiveArgs.SetBuffer(_receiveBuffer, 0, _receiveBuffer.Length);
            _receive = _socket.ReceiveAsync;
            _send = _socket.SendAsync;
            _received = OnReceived;
            _sent = OnSent;
            _onReceived = GetAsyncCallback<SocketAsyncEventArgs>(OnReceived);
            _onSent = GetAsyncCallback<SocketAsyncEventArgs>(OnSent);
            _receiveArgs.Completed += (_, args) => _onReceived(args);
            _sendArgs.Completed += (_, args) => _onSent(args);
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public override void PreStart() => Pull(_stage.In);

        // Reading: one receive per pull.
        public void OnPull() => Start(_receive, _receiveArgs, _received);

        private void OnReceived(SocketAsyncEventArgs args)
        {
            if (IsClosed(_stage.Out)) return; // reading was cancelled while this receive was pending
            if (args.SocketError != SocketError.Success)
            {
                FailStage(new SocketException((int)args.SocketError));
                return;
            }

            if (args.BytesTransferred == 0)
            {
                // The peer closed: like PyTorch's servers (and Akka with halfClose off), that ends the connection.
                Log.Debug("Connection from {0} closed by the peer", _socket.RemoteEndPoint);
                CompleteStage();
                return;
            }

            Push(_stage.Out, ByteString.FromBytes(_receiveBuffer, 0, args.BytesTransferred));
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
            if (_sendBuffer.Length < bytes.Count || _sendBuffer.Length > RetainedSendBufferBytes)
                _sendBuffer = new byte[Math.Max(bytes.Count, InitialSendBufferBytes)];
            bytes.CopyTo(_sendBuffer, 0, bytes.Count);
            _sendCount = bytes.Count;
            _sentBytes = 0;
            Send();
        }

        private void Send()
        {
            _sendArgs.SetBuffer(_sendBuffer, _sentBytes, _sendCount - _sentBytes);
            Start(_send, _sendArgs, _sent);
        }

        /// <summary>
        /// Starts a socket operation: a synchronous completion is handled here, an asynchronous one comes back through
        /// the stage's async callback.
        /// </summary>
        private void Start(
            Func<SocketAsyncEventArgs, bool> operation, SocketAsyncEventArgs args, Action<SocketAsyncEventArgs> completed)
        {
            bool pending;
            try
            {
                pending = operation(args);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                FailStage(e);
                return;
            }

            if (!pending) completed(args);
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
        }
    }
}
