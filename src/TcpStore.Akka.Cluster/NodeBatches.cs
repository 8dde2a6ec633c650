using Akka.Actor;
using TcpStore.Akka.Store;
using TcpStore.Protocol;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// A node's <see cref="StoreGateway"/> to a singleton on another node: its connections'
/// <see cref="StoreProtocol.Execute"/> and <see cref="StoreProtocol.ConnectionClosed"/> messages, in the order they
/// came, as one Akka.Remote message (each one is a remote message's whole cost otherwise: a storm of 5,000 ranks
/// through another node is 5,000 of them).
/// </summary>
internal sealed record NodeRequests(IReadOnlyList<object> Messages);

/// <summary>The singleton's messages to connections of one other node, in order, as one message to that node's gateway.</summary>
internal sealed record NodeReplies(IReadOnlyList<Delivery> Deliveries);

/// <summary>One <see cref="StoreProtocol.Executed"/> or <see cref="StoreProtocol.WaitCompleted"/> for one connection.</summary>
internal sealed record Delivery(IActorRef Connection, object Message);

/// <summary>How much goes into one batch: far below a remote frame, so that batching never makes a message too large.</summary>
internal static class NodeBatch
{
    public const long MaxBytes = 1 << 20;

    /// <summary>About what a message adds to a batch (its queries' or replies' wire bytes, and a path).</summary>
    public static long SizeOf(object message)
    {
        const long envelope = 128;
        switch (message)
        {
            case StoreProtocol.Execute execute:
                long queries = 0;
                foreach (var query in execute.Queries) queries += QueryEncoder.GetEncodedLength(query);
                return envelope + queries;
            case StoreProtocol.Executed executed:
                long replies = 0;
                foreach (var reply in executed.Replies)
                {
                    if (reply is not Reply.WaitPending) replies += ReplyEncoder.GetEncodedLength(reply); // it has no wire form
                }
                return envelope + replies;
            default:
                return envelope;
        }
    }
}
