using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using TcpStore.Akka.EventLoops;
using static TcpStore.Akka.EventLoops.LinuxNative;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The epoll transport's listening socket, registered (edge-triggered) with the event loop the listener runs on.
/// The loop's readiness report asks the listener to accept (<c>onReadable</c>, a message to an actor on the same
/// thread, sent once until the listener has drained the queue); the listener then takes connections with
/// <see cref="TryAccept"/> in batches.
/// </summary>
internal sealed unsafe class EpollAcceptor : IReadinessHandler, IDisposable
{
    private readonly Socket _listener;
    private readonly int _fd;
    private readonly EventLoop _loop;
    private readonly Action _onReadable;
    private int _registration = -1;
    private bool _acceptRequested;

    /// <param name="listener">The bound, listening socket (<see cref="SocketAcceptor.Listen"/>); made non-blocking.</param>
    /// <param name="onReadable">Called on the loop's thread when connections may be waiting.</param>
    public EpollAcceptor(Socket listener, Action onReadable)
    {
        _loop = EventLoop.Current ?? throw new InvalidOperationException("The epoll listener must run on an event loop.");
        _listener = listener;
        _listener.Blocking = false;
        _fd = (int)listener.Handle;
        _onReadable = onReadable;
    }

    /// <summary>Starts watching the socket: connections already queued are reported at once.</summary>
    public void Start() => _registration = _loop.Register(_fd, EpollIn | EpollEt, this);

    public void OnReadiness(uint events)
    {
        if (_acceptRequested) return;
        _acceptRequested = true;
        _onReadable();
    }

    /// <summary>What one <c>accept4</c> gave.</summary>
    public enum Outcome
    {
        /// <summary>A connection: the descriptor and its peer.</summary>
        Accepted,

        /// <summary>The queue is empty; the next connection is reported by the loop.</summary>
        Drained,

        /// <summary>A connection that was reset while queued, or similar: try the next.</summary>
        Skipped,

        /// <summary>Out of descriptors or memory: accepting has to pause.</summary>
        OutOfResources,

        /// <summary>The socket is closed.</summary>
        Closed,
    }

    /// <summary>Takes one connection from the kernel's queue (a non-blocking descriptor).</summary>
    public Outcome TryAccept(out int fd, out EndPoint? peer, out int errno)
    {
        // sockaddr_storage: 128 bytes, enough for any address family.
        var address = stackalloc byte[128];
        uint length = 128;
        fd = Accept4(_fd, address, &length, SockNonBlock | SockCloExec);
        if (fd >= 0)
        {
            peer = ToEndPoint(address, length);
            errno = 0;
            return Outcome.Accepted;
        }

        peer = null;
        errno = Marshal.GetLastPInvokeError();
        switch (errno)
        {
            case Eagain:
                _acceptRequested = false;
                return Outcome.Drained;
            case Eintr or Econnaborted or Eproto:
                return Outcome.Skipped;
            case Emfile or Enfile or Enobufs or Enomem:
                return Outcome.OutOfResources;
            default:
                return Outcome.Closed;
        }
    }

    /// <summary>Stops watching the socket (the listener closes it).</summary>
    public void Dispose()
    {
        if (_registration < 0) return;
        _loop.Unregister(_registration, _fd, fdClosing: false);
        _registration = -1;
    }
}
