using System.Net.Sockets;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The sockets a listener has accepted that no connection stream owns yet: on their way from the accept thread
/// through the listener to a connection host. When the listener stops, messages in flight between them are dropped,
/// so the sockets they carry would stay open forever (a client connected at that moment would never see its
/// connection close); the listener closes whatever is still here instead. Shared by the accept thread, the listener
/// and the hosts, hence the lock.
/// </summary>
internal sealed class AcceptedSocketTracker
{
    private readonly Lock _gate = new();
    private readonly HashSet<Socket> _unowned = [];
    private bool _closed;

    /// <summary>Tracks a socket just accepted; false when the listener has stopped (the caller closes it).</summary>
    public bool TryTrack(Socket socket)
    {
        lock (_gate)
        {
            if (_closed) return false;
            _unowned.Add(socket);
            return true;
        }
    }

    /// <summary>The socket is owned elsewhere now (a connection stream, or it was closed).</summary>
    public void Release(Socket socket)
    {
        lock (_gate) _unowned.Remove(socket);
    }

    /// <summary>Closes every socket nobody owns and refuses any accepted from now on.</summary>
    public void CloseAll()
    {
        Socket[] unowned;
        lock (_gate)
        {
            _closed = true;
            unowned = [.. _unowned];
            _unowned.Clear();
        }

        foreach (var socket in unowned) socket.Dispose();
    }
}
