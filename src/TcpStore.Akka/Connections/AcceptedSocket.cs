using System.Net;
using System.Net.Sockets;
using Akka.Streams;
using TcpStore.Akka.EventLoops;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The one per-connection input of a connection's stream: its socket and peer, given as a materialization attribute.
/// The listener fuses the connection graph once and materializes that blueprint for every accepted socket with this
/// attribute, so that accepting a connection neither composes nor fuses a graph (see docs/PERFORMANCE.md, storms).
/// The socket is a .NET <see cref="AcceptedSocket"/> with the sockets transport and a bare descriptor
/// (<see cref="AcceptedDescriptor"/>) with the epoll transport.
/// </summary>
internal abstract class AcceptedConnection(EndPoint peer) : Attributes.IAttribute
{
    private const int Unclaimed = 0, Claimed = 1, Closed = 2;
    private int _state;

    public EndPoint Peer { get; } = peer;

    /// <summary>
    /// A host takes the connection to start its stream, which owns the socket from then on; false when it was closed
    /// unclaimed first (the listener stopped, or its message was a dead letter).
    /// </summary>
    public bool TryClaim() => Interlocked.CompareExchange(ref _state, Claimed, Unclaimed) == Unclaimed;

    /// <summary>Closes the socket unless a host claimed it: safe to call from any thread, any number of times.</summary>
    public void CloseUnclaimed()
    {
        if (Interlocked.CompareExchange(ref _state, Closed, Unclaimed) == Unclaimed) Close();
    }

    /// <summary>Closes the socket; only its owner calls it (a host whose stream could not start).</summary>
    public abstract void Close();

    /// <summary>The accepted connection a stage is being materialized for.</summary>
    public static AcceptedConnection Of(Attributes inheritedAttributes) => Of<AcceptedConnection>(inheritedAttributes);

    protected static T Of<T>(Attributes inheritedAttributes) where T : AcceptedConnection =>
        inheritedAttributes.GetAttribute<T>()
        ?? throw new InvalidOperationException($"A connection stage was materialized without its {typeof(T).Name} attribute");
}

/// <summary>A connection accepted by the sockets transport: a .NET <see cref="System.Net.Sockets.Socket"/>.</summary>
internal sealed class AcceptedSocket(Socket socket, EndPoint peer) : AcceptedConnection(peer)
{
    public Socket Socket { get; } = socket;

    public override void Close() => Socket.Dispose();

    /// <summary>The accepted socket a stage is being materialized for.</summary>
    public static new AcceptedSocket Of(Attributes inheritedAttributes) => Of<AcceptedSocket>(inheritedAttributes);
}

/// <summary>
/// A connection accepted for the epoll transport: a non-blocking descriptor taken out of an accepted socket, owned
/// by the stage materialized for it, which registers it with the event loop it runs on.
/// </summary>
internal sealed class AcceptedDescriptor(int fd, EndPoint peer) : AcceptedConnection(peer)
{
    public int Fd { get; } = fd;

    public override void Close() => LinuxNative.Close(Fd);

    /// <summary>The accepted descriptor a stage is being materialized for.</summary>
    public static new AcceptedDescriptor Of(Attributes inheritedAttributes) => Of<AcceptedDescriptor>(inheritedAttributes);
}
