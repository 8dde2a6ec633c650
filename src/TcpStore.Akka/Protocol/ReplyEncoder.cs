namespace TcpStore.Akka.Protocol;

/// <summary>Turns <see cref="Reply"/> values into wire bytes. (Being written.)</summary>
public static class ReplyEncoder
{
}
