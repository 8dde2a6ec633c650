using TcpStore.Akka.Cli;

return await TcpStoreCli.RunAsync(args, Console.Out, Console.Error);
