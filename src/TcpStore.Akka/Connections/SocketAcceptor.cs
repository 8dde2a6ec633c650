using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The listening socket as an Akka.Streams source of accepted sockets. A thread of its own accepts (blocking), so the
/// kernel's accept queue is drained at once however busy the thread pool is, and hands each socket to the stage
/// through an async callback; the stage pushes them on demand. Completes when the listening socket is closed
/// (unbind).
/// </summary>
/// <remarks>
/// Not an asynchronous accept: its completion would queue in the thread pool behind a connection storm's own work
/// while the kernel's accept queue overflows (docs/PERFORMANCE.md, "an accept thread"). A blocked accept on its own
/// thread wakes as soon as a connection is queued.
/// </remarks>
internal sealed class SocketAcceptor : GraphStage<SourceShape<Socket>>
{
    /// <summary>Binds and listens at once (so a bind failure is reported synchronously), then accepts on demand.</summary>
    public static (Socket Listener, Source<Socket, NotUsed> Accepted) Bind(IPEndPoint endpoint, int backlog)
    {
        var listener = Listen(endpoint, backlog);
        return (listener, Accept(listener));
    }

    /// <summary>The connections accepted on <paramref name="listener"/> (bound and listening), on demand.</summary>
    public static Source<Socket, NotUsed> Accept(Socket listener) =>
        Source.FromGraph(new SocketAcceptor(listener)).Named("tcpstore-acceptor");

    /// <summary>A socket bound to <paramref name="endpoint"/> and listening (both transports bind with it).</summary>
    public static Socket Listen(IPEndPoint endpoint, int backlog)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Like PyTorch's servers: an IPv6 wildcard also takes IPv4 clients, and a restarted server can rebind
            // a port whose old connections are in TIME_WAIT (SO_REUSEADDR). Not .NET's ReuseAddress option: on
            // Linux it also sets SO_REUSEPORT, which would let a second server bind the same port.
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) listener.DualMode = true;
            if (OperatingSystem.IsLinux()) listener.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            listener.Bind(endpoint);
            listener.Listen(backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return listener;
    }

    private const int SolSocket = 1; // Linux <sys/socket.h>
    private const int SoReuseAddr = 2;

    private readonly Socket _listener;

    private SocketAcceptor(Socket listener)
    {
        _listener = listener;
        Shape = new SourceShape<Socket>(Out);
    }

    public Outlet<Socket> Out { get; } = new("SocketAcceptor.out");

    public override SourceShape<Socket> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic, IOutHandler
    {
        // Out of descriptors or buffers is passing: accepting stops for a moment, the listener stays.
        private static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(100);

        private readonly SocketAcceptor _stage;
        private readonly Queue<Socket> _accepted = new();
        private IAsyncCallback<Socket>? _onAccepted;
        private Action<SocketError>? _onAcceptFailed;
        private Action<NotUsed>? _onUnbound;
        private volatile bool _stopped;

        public Logic(SocketAcceptor stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.Out, this);
        }

        public override void PreStart()
        {
            _onAccepted = GetTypedAsyncCallback<Socket>(OnAccepted);
            _onAcceptFailed = GetAsyncCallback<SocketError>(error =>
                Log.Warning("Accepting a connection failed ({0}); retrying in {1} ms", error, RetryAfter.TotalMilliseconds));
            _onUnbound = GetAsyncCallback<NotUsed>(_ => CompleteStage());
            new Thread(AcceptLoop) { IsBackground = true, Name = "tcpstore-acceptor" }.Start();
        }

        public void OnPull()
        {
            if (_accepted.TryDequeue(out var socket)) Push(_stage.Out, socket);
        }

        private void OnAccepted(Socket socket)
        {
            if (IsAvailable(_stage.Out)) Push(_stage.Out, socket);
            else _accepted.Enqueue(socket);
        }

        /// <summary>The accept thread: runs until the listening socket is closed.</summary>
        private void AcceptLoop()
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = _stage._listener.Accept();
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    continue; // the peer gave up while queued: accept the next one
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted
                                                     or SocketError.InvalidArgument or SocketError.NotSocket)
                {
                    break; // the listening socket was closed: unbound
                }
                catch (SocketException e)
                {
                    _onAcceptFailed!(e.SocketErrorCode);
                    Thread.Sleep(RetryAfter);
                    continue;
                }

                if (_stopped)
                {
                    socket.Dispose(); // nobody would take it
                    continue;
                }

                // With feedback: a socket handed over while the stage stops is dropped by the stream, and nothing else
                // would ever close it (its client would wait for ever).
                _onAccepted!.InvokeWithFeedback(socket).ContinueWith(static (handed, state) =>
                {
                    if (!handed.IsCompletedSuccessfully) ((Socket)state!).Dispose();
                }, socket, CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            }

            if (!_stopped) _onUnbound!(NotUsed.Instance);
        }

        public void OnDownstreamFinish(Exception cause) => CompleteStage();

        public override void PostStop()
        {
            _stopped = true;
            while (_accepted.TryDequeue(out var socket)) socket.Dispose();
        }
    }
}
