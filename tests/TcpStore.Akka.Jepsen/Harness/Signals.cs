using System.Runtime.InteropServices;

namespace TcpStore.Akka.Jepsen.Harness;

/// <summary>POSIX signals to a process by id (.NET's Process only sends SIGKILL).</summary>
internal static class Signals
{
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    /// <summary>SIGSTOP: the process stops at once, sockets and all (the kernel still accepts connections for it).</summary>
    public static bool Stop(int pid) => Send(pid, SigStop);

    /// <summary>SIGCONT: a stopped process resumes where it was.</summary>
    public static bool Continue(int pid) => Send(pid, SigCont);

    /// <summary>SIGKILL, which also ends a stopped process.</summary>
    public static bool Kill(int pid) => Send(pid, SigKill);

    private static bool Send(int pid, int signal) => kill(pid, signal) == 0;

    // DllImport, not LibraryImport: the generated stub needs unsafe code for nothing here (two ints in, one out).
#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
