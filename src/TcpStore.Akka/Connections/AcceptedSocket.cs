using System.Net;
using System.Net.Sockets;
using Akka.Streams;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The one per-connection input of a connection's stream: its socket and peer, given as a materialization attribute.
/// The listener fuses the connection graph once and materializes that blueprint for every accepted socket with this
/// attribute, so that accepting a connection neither composes nor fuses a graph (see docs/PERFORMANCE.md, storms).
/// </summary>
internal sealed class AcceptedSocket(Socket socket, EndPoint peer) : Attributes.IAttribute
{
    public Socket Socket { get; } = socket;

    public EndPoint Peer { get; } = peer;

    /// <summary>The accepted socket a stage is being materialized for.</summary>
    public static AcceptedSocket Of(Attributes inheritedAttributes) =>
        inheritedAttributes.GetAttribute<AcceptedSocket>()
        ?? throw new InvalidOperationException("A connection stage was materialized without its AcceptedSocket attribute");
}
