using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The listening socket as an Akka.Streams source of accepted sockets: one accept per pull, completing straight into
/// the stage. Completes when the listening socket is closed (unbind).
/// </summary>
internal sealed class SocketAcceptor : GraphStage<SourceShape<Socket>>
{
    /// <summary>Binds and listens at once (so a bind failure is reported synchronously), then accepts on demand.</summary>
    public static (Socket Listener, Source<Socket, NotUsed> Accepted) Bind(IPEndPoint endpoint, int backlog)
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

        return (listener, Source.FromGraph(new SocketAcceptor(listener)).Named("tcpstore-acceptor"));
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

    private sealed class Logic : TimerGraphStageLogic, IOutHandler
    {
        // Out of descriptors or buffers is passing: accepting stops for a moment, the listener stays.
        private static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(100);

        private readonly SocketAcceptor _stage;
        private readonly SocketAsyncEventArgs _acceptArgs = new();
        private readonly Action<SocketAsyncEventArgs> _onAccepted;

        public Logic(SocketAcceptor stage) : base(stage.Shape)
        {
            _stage = stage;
            _onAccepted = GetAsyncCallback<SocketAsyncEventArgs>(OnAccepted);
            _acceptArgs.Completed += (_, args) => _onAccepted(args);
            SetHandler(stage.Out, this);
        }

        public void OnPull()
        {
            _acceptArgs.AcceptSocket = null;
            bool pending;
            try
            {
                pending = _stage._listener.AcceptAsync(_acceptArgs);
            }
            catch (ObjectDisposedException)
            {
                CompleteStage(); // unbound
                return;
            }

            if (!pending) OnAccepted(_acceptArgs);
        }

        private void OnAccepted(SocketAsyncEventArgs args)
        {
            switch (args.SocketError)
            {
                case SocketError.Success:
                    Push(_stage.Out, args.AcceptSocket!);
                    return;
                case SocketError.OperationAborted or SocketError.Interrupted:
                    CompleteStage(); // the listening socket was closed: unbound
                    return;
                case SocketError.ConnectionAborted or SocketError.ConnectionReset:
                    OnPull(); // the peer gave up while queued: accept the next one
                    return;
                default:
                    Log.Warning("Accepting a connection failed ({0}); retrying in {1} ms", args.SocketError,
                        RetryAfter.TotalMilliseconds);
                    ScheduleOnce(nameof(RetryAfter), RetryAfter);
                    return;
            }
        }

        protected override void OnTimer(object timerKey) => OnPull();

        public void OnDownstreamFinish(Exception cause) => CompleteStage();

        public override void PostStop() => _acceptArgs.Dispose();
    }
}
