using Akka.Actor;

namespace TcpStore.Akka.Store;

/// <summary>The only owner of the key/value map, the queues and the waiter lists. (Being written.)</summary>
public sealed class StoreActor : ReceiveActor
{
}
