using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TcpStore.Akka.EventLoops;

/// <summary>
/// The few Linux system calls the event loops and the epoll transport make, through the C library. Blittable
/// signatures only (pointers and integers), so a call is a plain native call with no marshalling; errno is read with
/// <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
/// <remarks>
/// Our own declarations rather than a bindings package: the transport needs ten calls, and the package that covers
/// them (Tmds.LibC, pre-1.0 raw bindings at 0.5.0) would be a dependency of every host for them.
/// Constants are Linux's (the same on x86-64 and arm64, which use the generic values); only <c>struct epoll_event</c>
/// differs between them (packed on x86-64), see <see cref="EpollEvent"/>.
/// </remarks>
internal static unsafe partial class LinuxNative
{
    private const string LibC = "libc";

    public const int EpollCloExec = 0x80000;     // EPOLL_CLOEXEC = O_CLOEXEC
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCtlMod = 3;

    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    public const int EfdCloExec = 0x80000;       // EFD_CLOEXEC
    public const int EfdNonBlock = 0x800;        // EFD_NONBLOCK

    public const int MsgNoSignal = 0x4000;       // MSG_NOSIGNAL: a peer that went away is EPIPE, never SIGPIPE

    public const int Eintr = 4;
    public const int Eagain = 11;                // also EWOULDBLOCK
    public const int Epipe = 32;
    public const int Econnaborted = 103;
    public const int Econnreset = 104;

    public const int ShutWr = 1;


    /// <summary>
    /// <c>struct epoll_event</c> as the kernel reads it on x86-64: packed, 12 bytes. arm64 (and every other 64-bit
    /// architecture) aligns the data to 8 bytes: 16 bytes, <see cref="EpollEventAligned"/>.
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEventAligned
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>Whether <c>struct epoll_event</c> is packed on this architecture (only x86-64 packs it).</summary>
    public static readonly bool EpollEventPacked = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>The size of one <c>struct epoll_event</c> on this architecture.</summary>
    public static readonly int EpollEventSize = EpollEventPacked ? sizeof(EpollEvent) : sizeof(EpollEventAligned);

    [LibraryImport(LibC, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(LibC, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, void* @event);

    [LibraryImport(LibC, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, void* events, int maxEvents, int timeout);

    [LibraryImport(LibC, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport(LibC, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(LibC, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, void* buffer, nint length, int flags);

    [LibraryImport(LibC, EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, void* buffer, nint length, int flags);

    [LibraryImport(LibC, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    /// <summary>Adds, changes or removes <paramref name="fd"/> in <paramref name="epfd"/>'s interest list.</summary>
    /// <returns>0, or the errno of the failure.</returns>
    public static int Control(int epfd, int op, int fd, uint events, ulong data)
    {
        int result;
        if (EpollEventPacked)
        {
            var ev = new EpollEvent { Events = events, Data = data };
            result = EpollCtl(epfd, op, fd, &ev);
        }
        else
        {
            var ev = new EpollEventAligned { Events = events, Data = data };
            result = EpollCtl(epfd, op, fd, &ev);
        }

        return result == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>The events and data of the <paramref name="index"/>th entry of an epoll_wait result array.</summary>
    public static (uint Events, ulong Data) EventAt(void* events, int index)
    {
        if (EpollEventPacked)
        {
            var ev = ((EpollEvent*)events)[index];
            return (ev.Events, ev.Data);
        }

        var aligned = ((EpollEventAligned*)events)[index];
        return (aligned.Events, aligned.Data);
    }

    /// <summary>The .NET name of an errno a socket call failed with.</summary>
    public static SocketException SocketError(int errno) => new(errno switch
    {
        Econnreset => (int)System.Net.Sockets.SocketError.ConnectionReset,
        Epipe => (int)System.Net.Sockets.SocketError.Shutdown,
        Econnaborted => (int)System.Net.Sockets.SocketError.ConnectionAborted,
        _ => (int)System.Net.Sockets.SocketError.SocketError,
    });
}
