namespace TcpStore.Akka.Store;

/// <summary>
/// The <c>ActorRegistry</c> key (<c>IRequiredActor&lt;StoreEndpoint&gt;</c>) of the actor that takes the
/// <see cref="StoreProtocol"/> messages: the <see cref="StoreActor"/> standalone, the node's gateway to the store
/// singleton in cluster mode. A key only; no actor is of this type.
/// </summary>
public sealed class StoreEndpoint
{
    private StoreEndpoint()
    {
    }
}
