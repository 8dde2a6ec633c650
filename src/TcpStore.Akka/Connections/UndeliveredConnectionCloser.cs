using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Closes accepted sockets that never reached a connection stream: a socket accepted while the listener or a host
/// was stopping is told to an actor that is gone, and its message becomes a dead letter. Nothing else knows that
/// socket, so without this it stays open (and its client waits) until the process exits. One per actor system (an
/// extension), subscribed to the dead letters of <see cref="Socket"/> and <see cref="AcceptedConnection"/>.
/// </summary>
internal sealed class UndeliveredConnectionCloser : IExtension
{
    private UndeliveredConnectionCloser(ExtendedActorSystem system)
    {
        var closer = system.SystemActorOf(Props.Create(() => new Closer()), "tcpstore-undelivered-connections");
        system.EventStream.Subscribe(closer, typeof(DeadLetter));
    }

    /// <summary>Makes sure <paramref name="system"/> closes undelivered sockets.</summary>
    public static void EnsureStarted(ActorSystem system) =>
        system.WithExtension<UndeliveredConnectionCloser, Provider>();

    private sealed class Provider : ExtensionIdProvider<UndeliveredConnectionCloser>
    {
        public override UndeliveredConnectionCloser CreateExtension(ExtendedActorSystem system) => new(system);
    }

    private sealed class Closer : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case DeadLetter { Message: AcceptedConnection accepted }:
                    accepted.CloseUnclaimed();
                    break;
                case DeadLetter { Message: Socket socket }:
                    socket.Dispose();
                    break;
            }
        }
    }
}
