from gpu_stack.interface.cli import main

main()
