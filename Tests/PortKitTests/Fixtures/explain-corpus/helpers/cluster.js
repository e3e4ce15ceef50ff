const c=require("cluster");if(c.isPrimary){c.fork();c.on("exit",()=>process.exit(1))}else require("http").createServer().listen(+process.argv[2])
