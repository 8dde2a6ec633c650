using System.Reflection;
using Akka.Actor;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// How a <see cref="TcpStoreGuardian"/> gets the store its connections talk to: a <see cref="StoreActor"/> of its own
/// (standalone), or a node's way to a store that lives elsewhere (cluster mode, in TcpStore.Akka.Cluster). Whatever
/// it creates is a child of the guardian, so the guardian's supervision covers it.
/// </summary>
public interface IStoreProvider
{
    /// <summary>
    /// Creates the store, or the way to it, in <paramref name="guardian"/>'s context, and returns the ref that takes
    /// the <see cref="StoreProtocol"/> messages. A provider whose store can be lost tells the guardian
    /// <see cref="StoreProtocol.StoreLost"/> when that happens.
    /// </summary>
    IActorRef CreateStore(IActorContext guardian, TcpStoreSettings settings);
}

/// <summary>The standalone store: one <see cref="StoreActor"/>, the guardian's child <c>store</c>.</summary>
public sealed class StandaloneStoreProvider(Props storeProps) : IStoreProvider
{
    public StandaloneStoreProvider(TcpStoreSettings settings) : this(StoreActor.Props(settings.StoreLimits))
    {
    }

    public IActorRef CreateStore(IActorContext guardian, TcpStoreSettings settings) =>
        guardian.ActorOf(storeProps, "store");
}

/// <summary>Picks the provider that <c>tcpstore.cluster.enabled</c> asks for.</summary>
public static class StoreProviders
{
    /// <summary>The cluster provider, loaded by name so that a standalone store never loads a cluster assembly.</summary>
    public const string ClusterProviderType = "TcpStore.Akka.Cluster.ClusterStoreProvider, TcpStore.Akka.Cluster";

    /// <summary>
    /// The provider for <paramref name="settings"/>. In cluster mode the provider is created here, before any actor,
    /// so that a missing assembly or a system that is not a cluster fails the host's start with a clear error.
    /// </summary>
    public static IStoreProvider For(ActorSystem system, TcpStoreSettings settings)
    {
        if (!settings.ClusterEnabled) return new StandaloneStoreProvider(settings);
        var type = Type.GetType(ClusterProviderType, throwOnError: false)
                   ?? throw new InvalidOperationException(
                       "tcpstore.cluster.enabled = on needs the TcpStore.Akka.Cluster assembly next to TcpStore.Akka " +
                       $"(type {ClusterProviderType} was not found).");
        // Unwrapped, so that a misconfigured node's ConfigurationException reaches the host as it was thrown.
        return (IStoreProvider)Activator.CreateInstance(type,
            BindingFlags.Public | BindingFlags.Instance | BindingFlags.DoNotWrapExceptions,
            binder: null, args: [system, settings], culture: null)!;
    }
}
