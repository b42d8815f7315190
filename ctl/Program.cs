using Ambient.Ctl;

return await Cli.RunAsync(args, Environment.GetEnvironmentVariable(CommandLine.AdminEnvironmentVariable), Console.Out, Console.Error);
